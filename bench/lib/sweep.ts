/**
 * The concurrency sweeps of `submit-key` and `wallet-sign`: a closed-loop load generator reaches
 * at most connections / latency, so with too few connections it measures the service's latency,
 * not what the service can take. Short runs at rising concurrency find where the rate stops
 * rising (submit-key: `sweepGoesOn`; wallet-sign runs each of its four levels); the measured run
 * then uses the best of them.
 */

/** One short run of the sweep. */
export interface SweepPoint {
  connections: number;
  requests: number;
  okPerSec: number;
  p50Ms: number;
  /** Every request answered 200 and nothing was reused (a shed request ends the sweep). */
  valid: boolean;
}

/** Concurrency levels the sweep tries, in order (BENCH_CONNECTIONS fixes one instead). */
export const SWEEP_LEVELS = [32, 64, 128, 256] as const;

/** The sweep goes on to the next level only while the rate still rises by this factor. */
export const SWEEP_GAIN = 1.05;

/**
 * The concurrency the measured run uses: the sweep's point with the best rate among the valid
 * ones (every request answered 200); the first of `levels` when none is valid.
 */
export function pickConcurrency(
  points: readonly SweepPoint[],
  levels: readonly number[] = SWEEP_LEVELS,
): number {
  let best: SweepPoint | undefined;
  for (const p of points) if (p.valid && (!best || p.okPerSec > best.okPerSec)) best = p;
  return best?.connections ?? levels[0]!;
}

/**
 * Whether the sweep tries the level after the last point: only if that point is valid and
 * raised the best valid rate before it by SWEEP_GAIN (so the sweep ends where the service
 * saturates, or where it starts to shed).
 */
export function sweepGoesOn(points: readonly SweepPoint[]): boolean {
  const last = points.at(-1);
  if (!last || !last.valid) return false;
  const before = points.slice(0, -1).filter((p) => p.valid);
  if (before.length === 0) return true;
  return last.okPerSec >= Math.max(...before.map((p) => p.okPerSec)) * SWEEP_GAIN;
}
