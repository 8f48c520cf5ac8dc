/**
 * The two small pieces of timing state the aggregates job machine needs, apart from it:
 * callers waiting for a job to end (`createWaiters`), and a self-rescheduling poll
 * (`createTicker`) that runs while there is work and stops cleanly.
 */

/** Callers waiting (up to a time) for a job to end, by job id. */
export function createWaiters() {
  const waiters = new Map<string, Set<() => void>>();
  const wake = (jobId: string): void => {
    for (const w of [...(waiters.get(jobId) ?? [])]) w();
  };
  return {
    waitFor(jobId: string, ms: number): Promise<void> {
      if (ms <= 0) return Promise.resolve();
      return new Promise((resolve) => {
        const set = waiters.get(jobId) ?? new Set();
        waiters.set(jobId, set);
        const done = () => {
          clearTimeout(t);
          set.delete(done);
          if (set.size === 0) waiters.delete(jobId);
          resolve();
        };
        const t = setTimeout(done, ms);
        set.add(done);
      });
    },
    wake,
    wakeAll(): void {
      for (const id of [...waiters.keys()]) wake(id);
    },
  };
}

/**
 * Runs `tick` every `intervalMs` while it answers true (there is more to poll for); `schedule`
 * starts it again after it went idle. `tick` errors are reported and the tick continues.
 */
export function createTicker(
  tick: () => Promise<boolean>,
  intervalMs: number,
  onError: (err: unknown) => void,
) {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = null;
      running = tick()
        .catch((err: unknown) => {
          onError(err);
          return true;
        })
        .then((more) => {
          running = null;
          if (more) schedule();
        });
    }, intervalMs);
  }
  return {
    schedule,
    start(): void {
      stopped = false;
      schedule();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
