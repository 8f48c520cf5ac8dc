/**
 * Host↔enclave RPC: `enclave.status` (the cheapest method: no params, no crypto, allowed in
 * every phase) through the service's own client (supervisor → EnclaveRpcClient → Unix socket →
 * enclave child process → dispatcher → back, with zod validation on both sides), in four modes:
 *
 *   serial     one call in flight, awaited before the next (a frame per call);
 *   pipelined  W calls in flight, each sent in its own frame (`batch([call])` flushes at once);
 *   coalesced  W calls in flight through `call()`, which sends the calls made in one tick in
 *              one frame (what the routes get under load);
 *   batched    one `batch()` of B calls in one frame at a time.
 *
 * Ceiling, same run: the same four shapes against an in-process echo server on a Unix socket
 * pair, with the real frame codec (encodeFrame + FrameDecoder + JSON) on both sides and a
 * status-sized result, but no schema validation, no dispatch and no second process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameDecoder, encodeFrame, type RequestFrame } from '../src/protocol/rpc/frame.js';
import type { MethodResult } from '../src/protocol/rpc/methods.js';
import {
  fmt,
  fmtRatio,
  measureConcurrent,
  measureSerial,
  percentile,
  pick,
  printTable,
  type Rate,
} from './lib/measure.js';
import { useService, type BenchService } from './lib/service.js';

type Mode = 'serial' | 'pipelined' | 'coalesced' | 'batched';
const MODES: Mode[] = ['serial', 'pipelined', 'coalesced', 'batched'];

export interface RpcModeResult {
  mode: Mode;
  callsPerSec: number;
  /** Mean µs per call (serial) or per round trip (others). */
  meanUs: number;
  p99Us: number;
  ceilingCallsPerSec: number;
  ratio: number;
}

export interface RpcResult {
  name: 'rpc';
  engine: string;
  inFlight: number;
  batchSize: number;
  modes: RpcModeResult[];
  errors: number;
}

/** Any transport that can send one frame of calls and resolve with each call's result. */
interface Driver {
  call(): Promise<void>;
  /** One call in its own frame, sent now. */
  single(): Promise<void>;
  batch(n: number): Promise<void>;
}

interface ModeFigures {
  rate: Rate;
  lat: ArrayLike<number>;
}

async function runModes(
  d: Driver,
  opts: { budgetMs: number; inFlight: number; batchSize: number },
): Promise<Record<Mode, ModeFigures>> {
  const { budgetMs, inFlight, batchSize } = opts;
  const serial = await measureSerial(() => d.call(), { budgetMs });
  const pipelined = await measureConcurrent(
    async () => {
      await d.single();
      return 1;
    },
    { workers: inFlight, budgetMs },
  );
  const coalesced = await measureConcurrent(
    async () => {
      await d.call();
      return 1;
    },
    { workers: inFlight, budgetMs },
  );
  const batched = await measureConcurrent(
    async () => {
      await d.batch(batchSize);
      return batchSize;
    },
    { workers: 1, budgetMs },
  );
  return {
    serial: { rate: serial, lat: serial.latenciesUs },
    pipelined: { rate: pipelined, lat: pipelined.latenciesUs },
    coalesced: { rate: coalesced, lat: coalesced.latenciesUs },
    batched: { rate: batched, lat: batched.latenciesUs },
  };
}

/**
 * The ceiling's transport: a client and an echo server in this process over a Unix socket,
 * framing exactly as the real client and enclave do, answering every call with `result`.
 */
async function echoDriver(result: unknown): Promise<{ driver: Driver; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-bench-rpc-'));
  const path = join(dir, 'echo.sock');
  const server: Server = createServer((conn) => {
    const dec = new FrameDecoder();
    conn.on('data', (chunk) => {
      for (const f of dec.push(chunk)) {
        const frame = f as RequestFrame;
        conn.write(
          encodeFrame({ results: frame.calls.map((c) => ({ id: c.id, ok: true, result })) }),
        );
      }
    });
    conn.on('error', () => conn.destroy());
  });
  await new Promise<void>((r) => server.listen(path, r));
  const sock: Socket = connect(path);
  await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
  const pending = new Map<number, () => void>();
  const dec = new FrameDecoder();
  sock.on('data', (chunk) => {
    for (const f of dec.push(chunk)) {
      for (const r of (f as { results: { id: number; ok: boolean }[] }).results) {
        if (!r.ok) throw new Error('echo failed');
        pending.get(r.id)?.();
        pending.delete(r.id);
      }
    }
  });
  let nextId = 1;
  let queued: { id: number; method: string; params: unknown }[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (queued.length > 0) sock.write(encodeFrame({ calls: queued }));
    queued = [];
  };
  const enqueue = () =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      queued.push({ id, method: 'enclave.status', params: {} });
    });
  const driver: Driver = {
    // Same coalescing rule as EnclaveRpcClient.call: flush on the next setImmediate.
    call() {
      const p = enqueue();
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return p;
    },
    single() {
      const p = enqueue();
      flush();
      return p;
    },
    async batch(n) {
      const ps = Array.from({ length: n }, enqueue);
      flush();
      await Promise.all(ps);
    },
  };
  return {
    driver,
    async close() {
      sock.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function runRpc(shared?: BenchService): Promise<RpcResult> {
  const budgetMs = pick(2500, 400);
  const ceilingBudgetMs = pick(1500, 400);
  const inFlight = pick(64, 32);
  const batchSize = pick(256, 128);

  return useService(shared, async (s) => {
    const enclave = s.service.enclave;
    let errors = 0;
    const check = (settled: PromiseSettledResult<unknown>[]) => {
      for (const r of settled) if (r.status === 'rejected') errors++;
    };
    const sample: MethodResult<'enclave.status'> = await enclave.call('enclave.status', {});
    if (sample.phase !== 'ready') throw new Error(`enclave is ${sample.phase}, not ready`);

    const real: Driver = {
      call: async () => {
        await enclave.call('enclave.status', {});
      },
      single: async () => check(await enclave.batch([{ method: 'enclave.status', params: {} }])),
      batch: async (n) =>
        check(
          await enclave.batch(
            Array.from({ length: n }, () => ({ method: 'enclave.status' as const, params: {} })),
          ),
        ),
    };

    // Ceiling first, then the service, then the ceiling again: the figure used is the better
    // of the two ceiling runs, and their spread shows how noisy the machine was.
    const echo = await echoDriver(sample);
    let ceilingA: Record<Mode, ModeFigures>;
    let ceilingB: Record<Mode, ModeFigures>;
    let service: Record<Mode, ModeFigures>;
    try {
      ceilingA = await runModes(echo.driver, { budgetMs: ceilingBudgetMs, inFlight, batchSize });
      service = await runModes(real, { budgetMs, inFlight, batchSize });
      ceilingB = await runModes(echo.driver, { budgetMs: ceilingBudgetMs, inFlight, batchSize });
    } finally {
      await echo.close();
    }

    const modes: RpcModeResult[] = MODES.map((mode) => {
      const ceiling = Math.max(ceilingA[mode].rate.opsPerSec, ceilingB[mode].rate.opsPerSec);
      const f = service[mode];
      return {
        mode,
        callsPerSec: f.rate.opsPerSec,
        meanUs: mode === 'serial' ? f.rate.usPerOp : mean(f.lat),
        p99Us: percentile(f.lat, 99),
        ceilingCallsPerSec: ceiling,
        ratio: f.rate.opsPerSec / ceiling,
      };
    });
    printTable(
      `rpc: enclave.status through the service's client (${s.engine}); in flight ${inFlight}, batch ${batchSize}` +
        `\n  ceiling: in-process echo over a Unix socket, same frame codec (best of 2 runs; spread in last column)`,
      modes.map((m) => ({
        mode: m.mode,
        'calls/s': m.callsPerSec,
        'mean µs/round trip': m.meanUs,
        'p99 µs': m.p99Us,
        'ceiling calls/s': m.ceilingCallsPerSec,
        'service/ceiling': fmtRatio(m.ratio),
        'ceiling runs': `${fmt(ceilingA[m.mode].rate.opsPerSec)} / ${fmt(ceilingB[m.mode].rate.opsPerSec)}`,
      })),
    );
    if (errors > 0) console.warn(`  ! ${errors} call(s) failed: the figures are not valid`);
    return { name: 'rpc', engine: s.engine, inFlight, batchSize, modes, errors };
  });
}

function mean(xs: ArrayLike<number>): number {
  let t = 0;
  for (let i = 0; i < xs.length; i++) t += xs[i]!;
  return xs.length > 0 ? t / xs.length : Number.NaN;
}
