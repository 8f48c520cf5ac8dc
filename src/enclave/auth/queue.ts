/**
 * A bounded, fair (FIFO) gate for memory-hard work: at most `concurrency` tasks run, at most
 * `maxWaiting` wait in arrival order, and the rest are refused at once with AUTH_BUSY, which the
 * host answers as 503 + Retry-After. Argon2id at m = 19 MiB holds that memory per running hash,
 * so this bound is what keeps a login flood from exhausting the enclave's memory
 * (research/perf-limits.md §1b, §4).
 */
import { RpcError } from '../../protocol/rpc/errors.js';

export class BoundedQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
  ) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new RpcError('AUTH_BUSY');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      // Hand the slot straight to the oldest waiter, so `running` never dips and a late
      // arrival cannot overtake it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
