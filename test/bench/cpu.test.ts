/**
 * bench/lib/cpu.ts: the CPU of a changing set of processes over a window (the database
 * server's backends). A process that exits must not take back what it spent: summing each
 * process's current CPU at the end and subtracting the sum at the start went negative when a
 * backend exited during a log-append run (stop 25: "postgres µs −2.26").
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { processSetCpu } from '../../bench/lib/cpu.js';

describe('bench: CPU of a changing set of processes', () => {
  it('keeps what an exited process spent, counts one started in the window from zero', async () => {
    const busy = () =>
      spawn(process.execPath, ['-e', 'const t = Date.now() + 300; while (Date.now() < t);']);
    const before = busy();
    const set = processSetCpu();
    set.sample([before.pid!]);
    const later = busy();
    await new Promise((r) => setTimeout(r, 150));
    set.sample([before.pid!, later.pid!]);
    const mid = set.totalMs();
    await Promise.all([once(before, 'exit'), once(later, 'exit')]);
    // Both gone: sampling them again reads nothing, and nothing is taken back.
    set.sample([before.pid!, later.pid!]);
    assert.equal(set.processes(), 2);
    assert.ok(set.totalMs() >= mid, `${set.totalMs()} < ${mid}`);
    assert.ok(mid > 0, 'the busy processes spent CPU in the window');
  });
});
