/**
 * The one way the host runs something on a schedule. It checks often and runs when due, so a
 * period longer than a timer's range (2^31 - 1 ms, about 24.8 days, beyond which Node fires at
 * once) is fine; "due" counts from the job's stored last run when it has one, so a host
 * restarted more often than the period still runs it. A run never overlaps another (a run asked
 * for while one is in flight joins it), a failed run is logged by its code and retried at the
 * next check, and `stop()` waits for the run in flight. With `lease`, a run is taken by one
 * instance of a cluster only (lease.ts).
 */
import type { Logger } from 'pino';

/** Longest delay a Node timer keeps; anything above it fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often a job checks whether it is due, at most (a long period is checked this often). */
export const DEFAULT_CHECK_MS = 60_000;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref(); // a schedule never keeps the process alive
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface PeriodicJobOptions<T> {
  /** Names the job in log lines: "<name> failed". */
  name: string;
  /** Period; 0 or less disables the schedule (`runNow` still works). */
  everyMs: number;
  /**
   * When the job last ran, from durable state (e.g. the stored keyring's time). Without it the
   * job counts from its own last run in this process, or from `start()`.
   */
  lastRunAt?: () => Promise<Date | undefined>;
  run: () => Promise<T>;
  /**
   * Several instances on one database: taken before a scheduled run (not `runNow`); false
   * means another instance runs it, so this one skips. `due` is checked again after it, so a
   * run another instance just finished is not repeated.
   */
  lease?: () => Promise<boolean>;
  logger: Pick<Logger, 'error'>;
  clock?: Clock;
  /** How often to check whether the job is due (default: the period, at most a minute). */
  checkEveryMs?: number;
}

/** A stable, secret-free name for an error: its `code` when it has one, else its class. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : typeof err;
}

export function createPeriodicJob<T>(opts: PeriodicJobOptions<T>) {
  const clock = opts.clock ?? systemClock;
  const checkMs = Math.max(
    1,
    Math.min(opts.checkEveryMs ?? Math.min(opts.everyMs, DEFAULT_CHECK_MS), MAX_TIMER_MS),
  );
  let timer: unknown = null;
  let stopped = true;
  let running: Promise<T> | null = null;
  let lastLocalRun = clock.now();

  function runNow(): Promise<T> {
    if (running) return running;
    // Counted from the start of a run, so that a check every period finds the next one due.
    lastLocalRun = clock.now();
    running = (async () => {
      try {
        return await opts.run();
      } finally {
        running = null;
      }
    })();
    return running;
  }

  async function due(): Promise<boolean> {
    const stored = opts.lastRunAt ? await opts.lastRunAt() : undefined;
    const last = stored ? stored.getTime() : lastLocalRun;
    return clock.now() - last >= opts.everyMs;
  }

  async function check(): Promise<void> {
    timer = null;
    try {
      // A stop() while the due check was reading stored state starts nothing new.
      if (
        running === null &&
        (await due()) &&
        (!opts.lease || ((await opts.lease()) && (await due()))) &&
        !stopped
      )
        await runNow();
    } catch (err) {
      opts.logger.error({ job: opts.name, code: errorCode(err) }, `${opts.name} failed`);
    }
    if (!stopped) timer = clock.setTimeout(() => void check(), checkMs);
  }

  return {
    /** Runs now (or joins the run in flight), outside the schedule. */
    runNow,
    start(): void {
      if (opts.everyMs <= 0 || !stopped) return;
      stopped = false;
      lastLocalRun = clock.now();
      // The first check is at once: a job whose stored last run is old is due now.
      timer = clock.setTimeout(() => void check(), 0);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}
export type PeriodicJob<T = unknown> = ReturnType<typeof createPeriodicJob<T>>;
