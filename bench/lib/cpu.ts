/**
 * CPU time of processes and threads, for the benchmarks' CPU-per-operation ceilings (issue 17):
 * what one operation costs in CPU, against the cores available, bounds the rate however well
 * the work overlaps. Read from /proc (Linux; NaN elsewhere) in clock ticks of 10 ms, so a
 * figure is meaningful over a window of seconds, not for one call.
 */
import { readFileSync, readdirSync } from 'node:fs';
import pg from 'pg';

/** CPU time (ms, user + system) of a process (all its threads), or of one of its threads. */
export function cpuMs(pid: number | null, tid?: number): number {
  if (pid === null) return Number.NaN;
  try {
    const path = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
    const f = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU time (ms) of a process's threads whose name (`comm`) is `name`, e.g. `libuv-worker` (the
 * libuv thread pool) or `V8Worker` (V8's helper threads); threads that exited are not counted.
 */
export function threadsCpuMs(pid: number | null, name: string): number {
  if (pid === null) return Number.NaN;
  let sum = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === name)
          sum += cpuMs(pid, Number(tid));
      } catch {
        // the thread exited meanwhile
      }
    }
  } catch {
    return Number.NaN;
  }
  return sum;
}

/** This process's CPU time (ms), all threads. */
export const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * CPU time spent by a changing set of processes over a window (the database server's backends
 * of one database: a pool opens and closes connections during a run). `sample(pids)` records
 * each one's CPU time; a process first seen after `start` counts from zero (it was started in
 * the window), one seen at `start` from its time then. A process that exits between two samples
 * loses what it spent since the last one, so sample often (every few hundred ms).
 */
export function processSetCpu() {
  const first = new Map<number, number>();
  const lastSeen = new Map<number, number>();
  let started = false;
  return {
    sample(pids: readonly number[]): void {
      for (const pid of pids) {
        const ms = cpuMs(pid);
        if (Number.isNaN(ms)) continue;
        if (!first.has(pid)) first.set(pid, started ? 0 : ms);
        lastSeen.set(pid, ms);
      }
      started = true;
    },
    /** How many processes were sampled (0 where /proc cannot see the server: it is remote). */
    processes(): number {
      return lastSeen.size;
    },
    /** CPU ms spent in the window by every process sampled. */
    totalMs(): number {
      let sum = 0;
      for (const [pid, ms] of lastSeen) sum += ms - first.get(pid)!;
      return sum;
    },
  };
}

/**
 * Samples the CPU time of the PostgreSQL backends serving `databaseUrl` (every 200 ms, from a
 * connection of its own, which is not counted) until `stop()`, which returns their CPU ms.
 * `serverProcesses`: also the server's WAL writer, background writer and checkpointer, which
 * work for every database (the log's figures count them; the submit_key ones do not).
 */
export async function databaseCpu(databaseUrl: string, { serverProcesses = false } = {}) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const set = processSetCpu();
  const sample = async () => {
    const { rows } = await c.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE (datname = current_database()${
          serverProcesses
            ? ` OR backend_type IN ('walwriter', 'background writer', 'checkpointer')`
            : ''
        }) AND pid <> pg_backend_pid()`,
    );
    set.sample(rows.map((r) => r.pid));
  };
  await sample();
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    busy = busy.then(sample, sample);
  }, 200);
  return {
    /** How many server processes were seen (0: the server is not on this machine). */
    processes: () => set.processes(),
    async stop(): Promise<number> {
      clearInterval(timer);
      await busy;
      await sample();
      await c.end();
      return set.totalMs();
    },
  };
}
