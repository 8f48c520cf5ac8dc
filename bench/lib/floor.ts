/**
 * A floor (issue 17): the CPU per request (ms) of only the parts any implementation of a
 * request needs on this machine, each measured in the same run, and what the cores allow at
 * that cost. When the rate it allows, over the ceiling a goal is stated against, is below the
 * goal's ratio, no implementation reaches the goal here: the goal is physically out of reach,
 * and the bench says so instead of falling short silently. Above it, the gap is the service's
 * own cost. bench/README.md ("The floor").
 */

export interface Floor<P extends string = string> {
  /** CPU ms per request of each part. */
  parts: Record<P, number>;
  /** Their sum. */
  ms: number;
  /** cores × 1000 / ms: requests/s the cores allow at that cost. */
  perSec: number;
  /** perSec over the ceiling the goal is stated against, as measured in this run. */
  ofCeiling: number;
  /**
   * perSec over the rate the ceiling's own CPU cost allows it (`ceilingCpuPerSec`: what it
   * reaches when it gets its cores to itself). On a shared machine the measured ceiling gets
   * less than its cores and `ofCeiling` rises with the load; this share does not, so the
   * scoreboard says a goal is out of reach from it. Equal to `ofCeiling` on an idle machine.
   */
  ofCeilingAtCpu: number;
}

/**
 * `ceilingPerSec`: the ceiling's rate measured in this run; `ceilingCpuPerSec`: the rate its
 * CPU per operation allows on the cores it runs on (for a one-thread ceiling, 1000 / its ms).
 */
export function floorOf<P extends string>(
  parts: Record<P, number>,
  cores: number,
  ceilingPerSec: number,
  ceilingCpuPerSec: number = ceilingPerSec,
): Floor<P> {
  const ms = (Object.values(parts) as number[]).reduce((a, b) => a + b, 0);
  const perSec = (cores * 1000) / ms;
  return {
    parts,
    ms,
    perSec,
    ofCeiling: perSec / ceilingPerSec,
    ofCeilingAtCpu: perSec / ceilingCpuPerSec,
  };
}
