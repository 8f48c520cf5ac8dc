/**
 * The enclave's Argon2id gate (src/enclave/auth/queue.ts): never more than `concurrency`
 * running, waiters start in arrival order, and beyond `maxWaiting` a task is refused at once
 * with AUTH_BUSY (it never runs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue } from '../../src/enclave/auth/queue.js';
import { RpcError } from '../../src/protocol/rpc/errors.js';

describe('BoundedQueue', () => {
  it('bounds concurrency, is FIFO, and sheds beyond the waiting bound', async () => {
    const q = new BoundedQueue(2, 3);
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const task = (i: number) => () =>
      new Promise<number>((resolve) => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        release.push(() => {
          running--;
          resolve(i);
        });
      });
    const results = Array.from({ length: 7 }, (_, i) =>
      q.run(task(i)).then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(q.stats, { running: 2, waiting: 3 });
    // Release one at a time: each release lets exactly the oldest waiter start.
    while (release.length > 0) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    const settled = await Promise.all(results);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(peak, 2);
    for (const s of settled.slice(5)) {
      assert.equal(s.ok, false);
      assert.ok(!s.ok && s.e instanceof RpcError && s.e.code === 'AUTH_BUSY');
    }
    assert.deepEqual(q.stats, { running: 0, waiting: 0 });
  });
});
