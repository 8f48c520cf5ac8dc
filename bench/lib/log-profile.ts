/**
 * Where a log-append run's time and CPU go (issue 17), measured from outside the log service:
 *
 * - CPU time per entry of the three processes a batch passes through: this one (the host, with
 *   the bench's callers; on PGlite the database too), the enclave child, and on a local
 *   PostgreSQL server the backends of the bench's database plus the WAL writer, background
 *   writer and checkpointer (read from /proc; `null` where it cannot be read). Their sum
 *   against the machine's cores is a ceiling no overlap of batches can pass: cores × 10^6 /
 *   (CPU µs per entry).
 * - The phases of each batch transaction, timed by wrapping `db.transaction` and the
 *   transaction's queries for the run (put back afterwards): from BEGIN to the head lock held
 *   (the wait for the previous batch; it includes the `log.prepare` call, made before the wait),
 *   the statements under the lock, the `log.append` enclave call, and COMMIT. The head lock is held from the lock statement to the end of COMMIT; its
 *   share of the run's wall time says how close the run is to the head-locked sequence.
 */
import { availableParallelism } from 'node:os';
import type { Queryable, QueryOptions } from '../../src/host/db/database.js';
import { cpuMs, databaseCpu } from './cpu.js';
import type { BenchService } from './service.js';

export interface CpuPerEntry {
  /** This process: the host, the bench's callers, and PGlite when it is the engine. */
  hostUs: number;
  enclaveUs: number | null;
  /** A local PostgreSQL server's processes for this database; null on PGlite or if remote. */
  postgresUs: number | null;
  totalUs: number;
  cores: number;
  /** cores × 10^6 / totalUs: entries/s if every core did nothing else. */
  ceilingPerSec: number;
}

export interface BatchPhases {
  batches: number;
  /** Means per batch, ms. */
  beginToLockMs: number;
  lockedMs: number;
  /** A `log.prepare` call (one per chunk: before the head lock, overlapping the previous batch). */
  prepareMs: number;
  /** A `log.append` call (one per chunk, under the head lock). */
  enclaveMs: number;
  storeMs: number;
  commitMs: number;
  /** Sum of the time the head lock was held / wall time of the run. */
  lockBusy: number;
}

const mean = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);

/** Starts the probe; `stop(entries)` puts everything back and returns the figures. */
export async function startLogProfile(s: BenchService) {
  const svc = s.service;
  const enclavePid = svc.enclave.pid();
  // Sampled through the run: the pool opens and closes backends while it runs (lib/cpu.ts).
  const pgCpu =
    s.engine === 'postgres' && s.databaseUrl
      ? await databaseCpu(s.databaseUrl, { serverProcesses: true })
      : null;
  const phases = {
    beginToLock: [] as number[],
    locked: [] as number[],
    prepare: [] as number[],
    enclave: [] as number[],
    store: [] as number[],
    commit: [] as number[],
  };
  const db = svc.db;
  const transaction = db.transaction;
  db.transaction = (async (fn: (tx: Queryable) => Promise<unknown>) => {
    const t0 = performance.now();
    let lockedAt = 0;
    let bodyEnd = 0;
    const out = await transaction.call(db, async (tx) => {
      const wrapped: Queryable = {
        async query<R>(sql: string, params?: unknown[], options?: QueryOptions) {
          const q0 = performance.now();
          const res = await tx.query<R>(sql, params, options);
          // The head lock: log_lock_head() (migration 022; it locks, then reads the head).
          if (sql.includes('log_lock_head(') && lockedAt === 0) {
            lockedAt = performance.now();
            phases.beginToLock.push(lockedAt - t0);
          } else if (sql.includes('INSERT INTO merkle_logs')) {
            phases.store.push(performance.now() - q0);
          }
          return res;
        },
        exec: (sql) => tx.exec(sql),
      };
      const r = await fn(wrapped);
      bodyEnd = performance.now();
      return r;
    });
    const end = performance.now();
    phases.commit.push(end - bodyEnd);
    if (lockedAt > 0) phases.locked.push(end - lockedAt);
    return out;
  }) as typeof db.transaction;
  const enclave = svc.enclave;
  const call = enclave.call;
  enclave.call = (async (method: string, params: unknown) => {
    const t0 = performance.now();
    try {
      return await (call as (m: string, p: unknown) => Promise<unknown>).call(
        enclave,
        method,
        params,
      );
    } finally {
      if (method === 'log.append') phases.enclave.push(performance.now() - t0);
      if (method === 'log.prepare') phases.prepare.push(performance.now() - t0);
    }
  }) as typeof enclave.call;

  const host0 = process.cpuUsage();
  // NaN where /proc cannot tell (not Linux, or the process is gone).
  const enclave0 = cpuMs(enclavePid);
  const wall0 = performance.now();

  return {
    async stop(entries: number): Promise<{ cpu: CpuPerEntry; phases: BatchPhases }> {
      const wallMs = performance.now() - wall0;
      db.transaction = transaction;
      enclave.call = call;
      const host = process.cpuUsage(host0);
      const enclave1 = cpuMs(enclavePid);
      const perEntry = (ms: number) => (ms * 1000) / Math.max(1, entries);
      const hostUs = perEntry((host.user + host.system) / 1000);
      const enclaveUs =
        Number.isNaN(enclave0) || Number.isNaN(enclave1) ? null : perEntry(enclave1 - enclave0);
      const pgMs = pgCpu ? await pgCpu.stop() : 0;
      const postgresUs = pgCpu && pgCpu.processes() > 0 ? perEntry(pgMs) : null;
      const totalUs = hostUs + (enclaveUs ?? 0) + (postgresUs ?? 0);
      const cores = availableParallelism();
      return {
        cpu: {
          hostUs,
          enclaveUs,
          postgresUs,
          totalUs,
          cores,
          ceilingPerSec: (cores * 1e6) / totalUs,
        },
        phases: {
          batches: phases.locked.length,
          beginToLockMs: mean(phases.beginToLock),
          lockedMs: mean(phases.locked),
          prepareMs: mean(phases.prepare),
          enclaveMs: mean(phases.enclave),
          storeMs: mean(phases.store),
          commitMs: mean(phases.commit),
          lockBusy: phases.locked.reduce((a, b) => a + b, 0) / wallMs,
        },
      };
    },
  };
}
