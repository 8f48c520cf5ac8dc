/**
 * Timing helpers shared by the benchmarks: ops/s of a synchronous or asynchronous function over
 * a fixed wall-clock budget (after a warm-up, so the JIT has compiled the hot path), percentiles,
 * number formatting and a plain-text table printer. Nothing here asserts a threshold: the
 * benchmarks report figures and ratios, they never pass or fail on speed.
 */
import { availableParallelism, cpus } from 'node:os';

export const QUICK = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';

/** Picks the full or the quick (BENCH_QUICK=1) value. */
export function pick<T>(full: T, quick: T): T {
  return QUICK ? quick : full;
}

export interface Rate {
  ops: number;
  seconds: number;
  opsPerSec: number;
  usPerOp: number;
}

function rate(ops: number, ms: number): Rate {
  const seconds = ms / 1000;
  return { ops, seconds, opsPerSec: ops / seconds, usPerOp: (ms * 1000) / ops };
}

/**
 * Runs `fn(i)` in chunks of `chunk` calls until `budgetMs` of wall time has passed, after
 * `warmupMs` of the same. `i` counts calls from 0 (across warm-up and measurement), so a
 * caller can cycle through pre-built inputs.
 */
export function measureSync(
  fn: (i: number) => void,
  opts: { budgetMs: number; warmupMs?: number; chunk?: number },
): Rate {
  const chunk = opts.chunk ?? 100;
  let i = 0;
  const warmEnd = performance.now() + (opts.warmupMs ?? Math.min(300, opts.budgetMs / 4));
  while (performance.now() < warmEnd) for (let k = 0; k < chunk; k++) fn(i++);
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < opts.budgetMs) {
    for (let k = 0; k < chunk; k++) fn(i++);
    ops += chunk;
    t = performance.now();
  }
  return rate(ops, t - t0);
}

/** As measureSync, one awaited call at a time (serial latency). */
export async function measureSerial(
  fn: (i: number) => Promise<unknown>,
  opts: { budgetMs: number; warmupMs?: number },
): Promise<Rate & { latenciesUs: Float64Array }> {
  let i = 0;
  const warmEnd = performance.now() + (opts.warmupMs ?? Math.min(300, opts.budgetMs / 4));
  while (performance.now() < warmEnd) await fn(i++);
  const lat: number[] = [];
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < opts.budgetMs) {
    const s = t;
    await fn(i++);
    t = performance.now();
    lat.push((t - s) * 1000);
  }
  return { ...rate(lat.length, t - t0), latenciesUs: Float64Array.from(lat) };
}

/**
 * `workers` concurrent loops, each awaiting `fn` then calling it again, until `budgetMs` has
 * passed (after a warm-up of the same shape). Every call in flight at the deadline is allowed
 * to finish and is counted; the elapsed time runs to the last completion. `fn` returns how
 * many operations it completed (1 for a single call, B for a batch of B).
 */
export async function measureConcurrent(
  fn: (i: number) => Promise<number>,
  opts: { workers: number; budgetMs: number; warmupMs?: number },
): Promise<Rate & { calls: number; latenciesUs: Float64Array }> {
  let i = 0;
  const loop = async (until: number, lat: number[] | null): Promise<number> => {
    let ops = 0;
    while (performance.now() < until) {
      const s = performance.now();
      ops += await fn(i++);
      lat?.push((performance.now() - s) * 1000);
    }
    return ops;
  };
  const warm = performance.now() + (opts.warmupMs ?? Math.min(300, opts.budgetMs / 4));
  await Promise.all(Array.from({ length: opts.workers }, () => loop(warm, null)));
  const lat: number[] = [];
  const t0 = performance.now();
  const counts = await Promise.all(
    Array.from({ length: opts.workers }, () => loop(t0 + opts.budgetMs, lat)),
  );
  const ms = performance.now() - t0;
  const ops = counts.reduce((a, b) => a + b, 0);
  return { ...rate(ops, ms), calls: lat.length, latenciesUs: Float64Array.from(lat) };
}

/**
 * A warm-up by count: `workers` concurrent loops call `fn` until `calls` calls have completed.
 * For a path whose functions run once per operation, V8 optimizes them after some hundreds of
 * operations whatever the wall time, so a warm-up by time is too short when each operation is
 * slow (a login: ~10 ms of Argon2id).
 */
export async function runCalls(
  fn: (i: number) => Promise<unknown>,
  opts: { workers: number; calls: number },
): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: opts.workers }, async () => {
      while (i < opts.calls) await fn(i++);
    }),
  );
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Three significant digits, thousands separated: 123 456, 12.3, 0.123. */
export function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const abs = Math.abs(n);
  if (abs >= 10 ** digits) return Math.round(n).toLocaleString('en-US');
  return Number(n.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/** A ratio as a percentage with 3 significant digits ("12.3 %"), or "x" for ratios above 10. */
export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return String(r);
  return r >= 10 ? `${fmt(r)}x` : `${fmt(r * 100)} %`;
}

export type Row = Record<string, string | number>;

/** Prints rows as an aligned text table (numbers right-aligned) under a title. */
export function printTable(title: string, rows: readonly Row[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) =>
    v === undefined ? '' : typeof v === 'number' ? fmt(v) : v;
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[], right: boolean[]) =>
    `  ${vals.map((v, k) => (right[k] ? v.padStart(width[k]!) : v.padEnd(width[k]!))).join('  ')}`;
  const numberLike = (v: string | number | undefined) =>
    typeof v !== 'string' || /^[\d.,]+( %|x)?$/.test(v);
  const numeric = cols.map((c) => rows.every((r) => numberLike(r[c])));
  console.log(line(cols, numeric));
  console.log(
    line(
      width.map((w) => '-'.repeat(w)),
      numeric,
    ),
  );
  for (const r of rows)
    console.log(
      line(
        cols.map((c) => cell(r[c])),
        numeric,
      ),
    );
}

export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    cpus: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    quick: QUICK ? 1 : 0,
    date: new Date().toISOString(),
  };
}

/** Waits for the next turn of the event loop (lets sockets and timers run between phases). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
