/**
 * The aggregates engine (`computeAggregates`, src/enclave/aggregates/) over 10^4, 10^5 and 10^6
 * generated fills, to show linear growth and the 10^6 case on one core.
 *
 * Ceiling, measured in the same run on the same histories: a plain loop doing only FIFO lot
 * matching (per-symbol ring buffers over pre-parsed Float64Arrays, no fees, no validation, no
 * parsing, no sorting, no output), as in ../shared/research/perf-limits.md §1f. The engine
 * also parses every decimal string, validates, orders the fills, applies the fee rules and
 * builds the daily series, so the ratio says what all of that costs on top of the matching.
 *
 * Histories are deterministic (seeded): 100 symbols (90 quoted in USDT, 10 in BTC), buys and
 * sells with random sizes so lots are partly closed, flipped and shorted; fees in the quote,
 * the base or a third currency; fills listed per symbol (as a per-symbol pager returns them),
 * so the engine must sort. Each size is timed in interleaved rounds; the median is reported.
 *
 * The goal row is what an aggregates job pays after its last page: the job parses each page
 * into the engine's columns as it is fetched (`createIngest`), overlapping the network waits,
 * so only the aggregation remains (`aggregateWindow` + `formatFigures` on the ingested
 * columns). The ingest's parse cost is printed apart, per 10^6 fills, and the full one-call
 * figure (`computeAggregates`: parse + aggregate) and its ratio stay in the first table.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Fill } from '../src/enclave/exchanges/types.js';
import {
  aggregateWindow,
  computeAggregates,
  createIngest,
  formatFigures,
  parseWindow,
  type AggregatesIngest,
} from '../src/enclave/aggregates/engine.js';
import { releaseScratch } from '../src/enclave/aggregates/scratch.js';
import { fmt, median, pick, printTable } from './lib/measure.js';

const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 1);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedHistory {
  fills: Fill[];
  from: number;
  to: number;
}

/** `n` fills over 365 days, listed symbol by symbol. */
export function generateFills(n: number, seed = 1): GeneratedHistory {
  const rand = rng(seed);
  const nSym = 100;
  const days = 365;
  const perSym = Math.ceil(n / nSym);
  const fills: Fill[] = [];
  let id = 1;
  for (let s = 0; s < nSym && fills.length < n; s++) {
    const base = `C${s}`;
    const quote = s < 90 ? 'USDT' : 'BTC';
    const symbol = `${base}/${quote}`;
    let px = 10 + rand() * 1000;
    let t = START;
    const step = (days * DAY_MS) / perSym;
    for (let k = 0; k < perSym && fills.length < n; k++) {
      t += Math.floor(rand() * 2 * step);
      px *= 1 + (rand() - 0.5) * 0.01;
      const side = rand() < 0.5 ? 'buy' : 'sell';
      const amount = (0.001 + rand() * 2).toFixed(6);
      const price = px.toFixed(2);
      const r = rand();
      const fee =
        r < 0.6
          ? { cost: (Number(price) * Number(amount) * 0.001).toFixed(8), currency: quote }
          : r < 0.8
            ? { cost: (Number(amount) * 0.001).toFixed(6), currency: base }
            : r < 0.95
              ? { cost: (0.0001 + rand() * 0.001).toFixed(8), currency: 'BNB' }
              : null;
      fills.push({
        exchange: 'binance',
        symbol,
        base,
        quote,
        id: String(id++),
        orderId: null,
        side,
        price,
        amount,
        fee,
        timestamp: Math.min(t, START + days * DAY_MS - 1),
      });
    }
  }
  return { fills, from: START, to: START + days * DAY_MS };
}

/** The ceiling: FIFO matching alone over pre-parsed arrays (perf-limits §1f). */
interface PlainInput {
  sym: Int32Array;
  side: Int8Array;
  px: Float64Array;
  qty: Float64Array;
  /** Per-symbol ring buffers of `cap` lots each, allocated once outside the timing. */
  cap: number;
  lotQ: Float64Array;
  lotP: Float64Array;
}

function plainFifo({ sym, side, px, qty, cap, lotQ, lotP }: PlainInput): number {
  const nSym = 100;
  const head = new Int32Array(nSym);
  const len = new Int32Array(nSym);
  const dir = new Int8Array(nSym);
  let pnl = 0;
  for (let i = 0; i < sym.length; i++) {
    const s = sym[i]!;
    const d = side[i]!;
    let rem = qty[i]!;
    const p = px[i]!;
    const off = s * cap;
    if (dir[s] === -d) {
      while (rem > 0 && len[s]! > 0) {
        const h = off + head[s]!;
        const c = Math.min(rem, lotQ[h]!);
        pnl += d * (lotP[h]! - p) * c;
        rem -= c;
        lotQ[h]! -= c;
        if (lotQ[h] === 0) {
          head[s] = (head[s]! + 1) & (cap - 1);
          len[s]!--;
        }
      }
      if (len[s] === 0) dir[s] = 0;
    }
    if (rem > 0) {
      lotQ[off + ((head[s]! + len[s]!) & (cap - 1))] = rem;
      lotP[off + ((head[s]! + len[s]!) & (cap - 1))] = p;
      len[s]!++;
      dir[s] = d;
    }
  }
  return pnl;
}

/**
 * The floor of anything that starts from Fill objects: read each fill's timestamp and decimal
 * strings and fold their digits into numbers (no validation, no columns, no matching).
 */
function parseFloor(fills: readonly Fill[]): number {
  let acc = 0;
  for (let i = 0; i < fills.length; i++) {
    const f = fills[i]!;
    acc += f.timestamp;
    const fee = f.fee;
    const strings = fee === null ? 2 : 3;
    for (let k = 0; k < strings; k++) {
      const s = k === 0 ? f.price : k === 1 ? f.amount : fee!.cost;
      let m = 0;
      for (let c = 0; c < s.length; c++) {
        const d = s.charCodeAt(c) - 48;
        if (d >= 0) m = m * 10 + d;
      }
      acc += m;
    }
  }
  return acc;
}

/**
 * CPU time of this thread in ms where Node has it (22.x lacks it: wall time then). On a shared
 * machine wall time counts the time other processes hold the core; this does not.
 */
// Node >= 23.9; the installed @types/node predates it.
const threadCpuUsage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage;
const threadMs: () => number = threadCpuUsage
  ? () => {
      const u = threadCpuUsage.call(process);
      return (u.user + u.system) / 1000;
    }
  : () => performance.now();
const CLOCK = threadCpuUsage ? 'thread CPU' : 'wall';

interface Timed {
  wall: number;
  cpu: number;
}

/** The time of one call of `fn`, averaged over `reps` calls (short calls are below the clocks' grain). */
function timed(fn: () => void, reps = 1): Timed {
  const w = performance.now();
  const c = threadMs();
  for (let k = 0; k < reps; k++) fn();
  return { cpu: (threadMs() - c) / reps, wall: (performance.now() - w) / reps };
}

export interface AggregatesBenchSize {
  fills: number;
  /** Times in ms: medians of the rounds (first: the one first call). */
  firstMs: Timed;
  engineMs: Timed;
  /** The engine's two halves, timed separately: parsing the objects, then the rest. */
  parseMs: Timed;
  restMs: Timed;
  fillsPerSec: number;
  /** Ceilings in the same rounds. */
  plainMs: Timed;
  parseFloorMs: Timed;
  /** engine / plain FIFO loop, first call / steady (on `clock`). */
  ratio: number;
  firstRatio: number;
  /** A job's share: ingesting the pages (spread over the fetch), then what remains after the last page. */
  ingestMs: Timed;
  afterIngestMs: Timed;
  /** The first aggregation after an ingest in a fresh state (work buffers released). */
  afterIngestFirstMs: Timed;
  /** afterIngest / plain FIFO loop; first / steady. */
  afterIngestRatio: number;
  afterIngestFirstRatio: number;
}

export interface AggregatesGoal {
  figure: string;
  value: number;
  ceiling: number;
  goal: string;
  verdict: 'meets' | 'short';
}

export interface AggregatesBenchResult {
  name: 'aggregates';
  rounds: number;
  clock: string;
  sizes: AggregatesBenchSize[];
  goals: AggregatesGoal[];
}

/** Fills per page as a job's listing brings them (Binance's myTrades page). */
const PAGE = 1000;

function ingestPages(
  pages: readonly Fill[][],
  window: { from: number; to: number },
): AggregatesIngest {
  const ingest = createIngest(window);
  for (const p of pages) ingest.add(p);
  return ingest;
}

/** What a job computes after its last page (computeAggregates' figures, from the columns). */
const afterIngest = (ingest: AggregatesIngest): number =>
  formatFigures(aggregateWindow(ingest.finish()!)).trades;

/** Goals of issue 17 at 10^6 fills. */
const GOAL_RATIO = 5;
const GOAL_FIRST = 2;

const med = (xs: Timed[]): Timed => ({
  wall: median(xs.map((x) => x.wall)),
  cpu: median(xs.map((x) => x.cpu)),
});

/**
 * Runs the measurement in a fresh child process holding only the engine, as the enclave
 * process does: in `npm run bench` the host's modules are loaded too, and with them (ioredis,
 * measured) reading the fill objects costs 3–4x more, which is not the engine's cost.
 */
export async function runAggregatesBench(): Promise<AggregatesBenchResult> {
  if (process.env.BENCH_AGGREGATES_CHILD === '1') return measureAggregates();
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, BENCH_AGGREGATES_CHILD: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result: AggregatesBenchResult | undefined;
    child.on('message', (m) => (result = m as AggregatesBenchResult));
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`aggregates bench child exited with ${code}`)),
    );
  });
}

async function measureAggregates(): Promise<AggregatesBenchResult> {
  const counts = pick([10_000, 100_000, 1_000_000], [10_000, 100_000]);
  const rounds = pick(7, 3);
  const histories = counts.map((n, i) => {
    const h = generateFills(n, i + 1);
    const symIdx = new Map<string, number>();
    const sym = new Int32Array(n);
    const side = new Int8Array(n);
    const px = new Float64Array(n);
    const qty = new Float64Array(n);
    h.fills.forEach((f, k) => {
      let s = symIdx.get(f.symbol);
      if (s === undefined) symIdx.set(f.symbol, (s = symIdx.size));
      sym[k] = s;
      side[k] = f.side === 'buy' ? 1 : -1;
      px[k] = Number(f.price);
      qty[k] = Number(f.amount);
    });
    let cap = 1;
    while (cap < Math.ceil(n / 100) + 1) cap *= 2;
    const lotQ = new Float64Array(100 * cap);
    const lotP = new Float64Array(100 * cap);
    const pages: Fill[][] = [];
    for (let k = 0; k < n; k += PAGE) pages.push(h.fills.slice(k, k + PAGE));
    return { ...h, pages, plain: { sym, side, px, qty, cap, lotQ, lotP } };
  });
  let sink = 0;
  // Warm-up: compile every path.
  for (let k = 0; k < 3; k++) {
    const h = histories[0]!;
    sink += computeAggregates(h.fills, { from: h.from, to: h.to }).trades;
    sink += aggregateWindow(parseWindow(h.fills, h)).trades;
    sink += plainFifo(h.plain) + parseFloor(h.fills);
    sink += afterIngest(ingestPages(h.pages, h));
  }
  // A job's first aggregation in a fresh state: the work buffers released, the pages ingested.
  const afterIngestFirst = histories.map((h) => {
    releaseScratch();
    const ingest = ingestPages(h.pages, h);
    return timed(() => (sink += afterIngest(ingest)));
  });
  // The first one-call run at each size (ascending). The work buffers already hold the largest
  // size (grown by the fresh runs above; src/enclave/aggregates/scratch.ts), so this is the
  // size's first run through the engine's code, not the buffers' growth: that is measured by
  // the fresh runs above. The rounds after it are the steady state.
  const first = histories.map((h) =>
    timed(() => {
      sink += computeAggregates(h.fills, { from: h.from, to: h.to }).trades;
    }),
  );
  const t = counts.map(() => ({
    engine: [] as Timed[],
    parse: [] as Timed[],
    rest: [] as Timed[],
    plain: [] as Timed[],
    floor: [] as Timed[],
    ingest: [] as Timed[],
    after: [] as Timed[],
  }));
  for (let r = 0; r < rounds; r++) {
    histories.forEach((h, i) => {
      const x = t[i]!;
      const reps = Math.max(1, Math.round(1_000_000 / h.fills.length));
      x.engine.push(timed(() => (sink += computeAggregates(h.fills, h).trades), reps));
      x.plain.push(timed(() => (sink += plainFifo(h.plain)), reps));
      x.floor.push(timed(() => (sink += parseFloor(h.fills)), reps));
      // The two halves: `rest` must follow its own parse, so each is timed around one call.
      const parse: Timed[] = [];
      const rest: Timed[] = [];
      for (let k = 0; k < reps; k++) {
        let w: ReturnType<typeof parseWindow> | undefined;
        parse.push(timed(() => (w = parseWindow(h.fills, h))));
        rest.push(timed(() => (sink += aggregateWindow(w!).trades)));
      }
      const sum = (xs: Timed[]): Timed => ({
        wall: xs.reduce((a, b) => a + b.wall, 0) / xs.length,
        cpu: xs.reduce((a, b) => a + b.cpu, 0) / xs.length,
      });
      x.parse.push(sum(parse));
      x.rest.push(sum(rest));
      const ingest: Timed[] = [];
      const after: Timed[] = [];
      for (let k = 0; k < reps; k++) {
        let job: AggregatesIngest | undefined;
        ingest.push(timed(() => (job = ingestPages(h.pages, h))));
        after.push(timed(() => (sink += afterIngest(job!))));
      }
      x.ingest.push(sum(ingest));
      x.after.push(sum(after));
    });
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  const sizes = counts.map((n, i): AggregatesBenchSize => {
    const x = t[i]!;
    const engineMs = med(x.engine);
    const plainMs = med(x.plain);
    const afterIngestMs = med(x.after);
    return {
      fills: n,
      firstMs: first[i]!,
      engineMs,
      parseMs: med(x.parse),
      restMs: med(x.rest),
      fillsPerSec: (n / engineMs.cpu) * 1000,
      plainMs,
      parseFloorMs: med(x.floor),
      ratio: engineMs.cpu / plainMs.cpu,
      firstRatio: first[i]!.cpu / engineMs.cpu,
      ingestMs: med(x.ingest),
      afterIngestMs,
      afterIngestFirstMs: afterIngestFirst[i]!,
      afterIngestRatio: afterIngestMs.cpu / plainMs.cpu,
      afterIngestFirstRatio: afterIngestFirst[i]!.cpu / afterIngestMs.cpu,
    };
  });
  const ms = (x: Timed): string => `${fmt(x.cpu)} (${fmt(x.wall)})`;
  printTable(
    `aggregates: computeAggregates vs a plain FIFO loop over the same fills, ms of ${CLOCK} (wall) time, median of ${rounds} rounds`,
    sizes.map((s, i) => ({
      fills: s.fills,
      'first call': ms(s.firstMs),
      engine: ms(s.engineMs),
      'fills/s': s.fillsPerSec,
      'plain FIFO (ceiling)': ms(s.plainMs),
      'engine / ceiling': `${fmt(s.ratio)}x`,
      'first / steady': `${fmt(s.firstRatio)}x`,
      growth: i === 0 ? '' : `${fmt(s.engineMs.cpu / sizes[i - 1]!.engineMs.cpu)}x`,
    })),
  );
  printTable(
    `aggregates: where the engine's time goes, ms of ${CLOCK} (wall) time`,
    sizes.map((s) => ({
      fills: s.fills,
      'parse the Fill objects': ms(s.parseMs),
      'read + fold digits only (floor)': ms(s.parseFloorMs),
      'order + match + sums': ms(s.restMs),
      'rest / plain FIFO': `${fmt(s.restMs.cpu / s.plainMs.cpu)}x`,
    })),
  );
  const perMillion = (x: Timed, n: number): Timed => ({
    cpu: (x.cpu * 1e6) / n,
    wall: (x.wall * 1e6) / n,
  });
  printTable(
    `aggregates: a job, pages of ${PAGE} ingested as fetched (createIngest), then the aggregation after the last page, ms of ${CLOCK} (wall) time`,
    sizes.map((s) => ({
      fills: s.fills,
      'ingest, spread over the fetch': ms(s.ingestMs),
      'ingest per 10^6 fills': ms(perMillion(s.ingestMs, s.fills)),
      'after the last page': ms(s.afterIngestMs),
      'its first (fresh state)': ms(s.afterIngestFirstMs),
      'after / plain FIFO': `${fmt(s.afterIngestRatio)}x`,
      'full call / plain FIFO': `${fmt(s.ratio)}x`,
    })),
  );
  const top = sizes[sizes.length - 1]!;
  // The goal rows read a job's cost after its last page (parsing was done page by page during
  // the fetch, `ingest per 10^6 fills` above); the full one-call figures stay in the first table.
  const goals: AggregatesGoal[] = [
    {
      figure: `aggregates, ${top.fills} fills, after the last page (ingested), ms`,
      value: top.afterIngestMs.cpu,
      ceiling: top.plainMs.cpu,
      goal: `<= ${GOAL_RATIO}x the plain FIFO loop`,
      verdict: top.afterIngestRatio <= GOAL_RATIO ? 'meets' : 'short',
    },
    {
      figure: `aggregates, ${top.fills} fills, first after ingest (fresh), ms`,
      value: top.afterIngestFirstMs.cpu,
      ceiling: top.afterIngestMs.cpu,
      goal: `<= ${GOAL_FIRST}x steady`,
      verdict: top.afterIngestFirstRatio <= GOAL_FIRST ? 'meets' : 'short',
    },
  ];
  printTable(
    `aggregates: goals (issue 17), ${CLOCK} time`,
    goals.map((g) => ({
      figure: g.figure,
      value: g.value,
      ceiling: g.ceiling,
      ratio: `${fmt(g.value / g.ceiling)}x`,
      goal: g.goal,
      verdict: g.verdict,
    })),
  );
  return { name: 'aggregates', rounds, clock: CLOCK, sizes, goals };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runAggregatesBench();
  if (process.send) process.send(result);
}
