/**
 * The host's side of the enclave socket. Calls made in the same turn of the event loop are
 * coalesced into one frame (batched ECALLs, research/perf-limits.md §1d: 6 µs per call instead
 * of 81 µs for strict request/response); `batch()` sends an explicit group in one frame. Every
 * call has an id and a timeout, and every result is validated against the method's schema.
 *
 * Overload: the enclave reads a connection only while few of its frames wait (its server's flow
 * control), so what it cannot take yet piles up in this socket's write buffer, in host memory,
 * and is worked on after its callers timed out. Past `maxBufferedBytes` a new call is refused at
 * once (ENCLAVE_BUSY, a 503 with Retry-After) instead, but for the few calls the host makes
 * itself (UNSHED). One request's params that cannot be framed fail that call alone.
 */
import { connect, type Socket } from 'node:net';
import { isRpcErrorCode, type RpcErrorCode } from '../../protocol/rpc/errors.js';
import {
  FrameDecoder,
  MAX_CALLS_PER_FRAME,
  ResponseFrameSchema,
  encodeFrames,
  type Call,
} from '../../protocol/rpc/frame.js';
import {
  METHODS,
  type MethodName,
  type MethodParams,
  type MethodResult,
} from '../../protocol/rpc/methods.js';

export type EnclaveCallErrorCode =
  RpcErrorCode | 'ENCLAVE_UNAVAILABLE' | 'ENCLAVE_TIMEOUT' | 'ENCLAVE_BUSY';

/** Bytes of frames the enclave has not read yet past which calls are refused (ENCLAVE_BUSY). */
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/**
 * Calls never refused as busy, whose number is the host's own, not its clients': the heartbeat (a
 * refusal would hide a hung enclave), the log's appends (one per batch of operations whose
 * enclave work is done), the job poller, a revocation's job cancel (the opened key is wiped), and
 * the step that makes a stored key rotation the enclave's.
 */
const UNSHED: ReadonlySet<MethodName> = new Set<MethodName>([
  'enclave.status',
  'log.prepare',
  'log.append',
  'aggregates.poll',
  'aggregates.cancel',
  'keyring.activate',
  'keyring.reload',
  'auth.activate',
]);

export class EnclaveCallError extends Error {
  /** ENVELOPE_BEFORE_START: the enclave's envelope_not_before (set by the supervisor). */
  notBefore?: number;
  constructor(readonly code: EnclaveCallErrorCode) {
    super(`enclave call failed: ${code}`);
    this.name = 'EnclaveCallError';
  }
}

interface Pending {
  method: MethodName;
  resolve(value: unknown): void;
  reject(err: EnclaveCallError): void;
  timer: NodeJS.Timeout;
}

export interface BatchCall<M extends MethodName = MethodName> {
  method: M;
  params: MethodParams<M>;
}

export class EnclaveRpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private queued: Call[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
    private readonly maxBufferedBytes: number,
  ) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      try {
        for (const frame of decoder.push(chunk)) this.onFrame(frame);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.handleClose());
  }

  static connect(
    socketPath: string,
    timeoutMs: number,
    maxBufferedBytes = DEFAULT_MAX_BUFFERED_BYTES,
  ): Promise<EnclaveRpcClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new EnclaveRpcClient(socket, timeoutMs, maxBufferedBytes));
      });
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  call<M extends MethodName>(method: M, params: MethodParams<M>): Promise<MethodResult<M>> {
    if (this.closed) return Promise.reject(new EnclaveCallError('ENCLAVE_UNAVAILABLE'));
    // The enclave is behind: refuse now rather than queue work it would do after the caller left.
    if (this.socket.writableLength > this.maxBufferedBytes && !UNSHED.has(method))
      return Promise.reject(new EnclaveCallError('ENCLAVE_BUSY'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EnclaveCallError('ENCLAVE_TIMEOUT'));
      }, this.timeoutMs);
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      this.queued.push({ id, method, params });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends `calls` together (one frame per MAX_CALLS_PER_FRAME); settles each independently. */
  batch(calls: BatchCall[]): Promise<PromiseSettledResult<unknown>[]> {
    const promises = calls.map((c) => this.call(c.method, c.params as never));
    this.flush();
    return Promise.allSettled(promises);
  }

  close(): void {
    this.socket.destroy();
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queued.length > 0) this.send(this.queued.splice(0, MAX_CALLS_PER_FRAME));
  }

  /**
   * Writes `calls` as one frame, encoded once. A frame holds the calls of many requests, so when
   * it cannot be encoded (over MAX_FRAME_BYTES together, or one call's params nested too deep for
   * JSON.stringify) it is halved until the call at fault is alone, and only that one fails.
   */
  private send(calls: Call[]): void {
    const frames = encodeFrames(
      calls,
      (part) => ({ calls: part }),
      (call, code) => {
        this.settleError(call.id, code);
        return null;
      },
    );
    for (const bytes of frames) this.socket.write(bytes);
  }

  private onFrame(frame: unknown): void {
    const parsed = ResponseFrameSchema.safeParse(frame);
    if (!parsed.success || 'error' in parsed.data) {
      // The enclave could not read what we sent: the stream is out of step, start over.
      this.socket.destroy();
      return;
    }
    for (const r of parsed.data.results) {
      const p = this.pending.get(r.id);
      if (!p) continue; // timed out already
      if (!r.ok) {
        this.settleError(r.id, isRpcErrorCode(r.error.code) ? r.error.code : 'INTERNAL');
        continue;
      }
      const result = METHODS[p.method].result.safeParse(r.result);
      if (!result.success) {
        this.settleError(r.id, 'INTERNAL');
        continue;
      }
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      p.resolve(result.data);
    }
  }

  private settleError(id: number, code: EnclaveCallErrorCode): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(new EnclaveCallError(code));
  }

  private handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.settleError(id, 'ENCLAVE_UNAVAILABLE');
    for (const c of this.queued) this.settleError(c.id, 'ENCLAVE_UNAVAILABLE');
    this.queued = [];
    for (const l of this.closeListeners) l();
  }
}

export function isEnclaveCallError(
  err: unknown,
  code?: EnclaveCallErrorCode,
): err is EnclaveCallError {
  return err instanceof EnclaveCallError && (code === undefined || err.code === code);
}
