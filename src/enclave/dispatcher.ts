/**
 * Frame → phase check → params validation → handler → result allow-list → response frame.
 * Every failure becomes an error result with a fixed message: a decode failure is an error
 * frame, never a crash, and nothing a handler throws (which may quote input) crosses the boundary.
 */
import { EnvelopeError } from '../protocol/envelope/errors.js';
import { RpcError, type RpcErrorBody } from '../protocol/rpc/errors.js';
import {
  RequestFrameSchema,
  type Call,
  type ResponseFrame,
  type Result,
} from '../protocol/rpc/frame.js';
import { METHODS, isMethodName } from '../protocol/rpc/methods.js';
import { WalletError } from '../protocol/wallet/errors.js';
import { HANDLERS, type Handler } from './methods/index.js';
import type { EnclaveState } from './state.js';

export function toErrorBody(err: unknown): RpcErrorBody {
  if (err instanceof RpcError) return err.toBody();
  if (err instanceof EnvelopeError) return new RpcError(err.code).toBody();
  if (err instanceof WalletError) return new RpcError(err.code).toBody();
  return new RpcError('INTERNAL').toBody();
}

/**
 * Results a frame's calls may hold back at most: once this many are ready and more calls remain,
 * they go out (`partial`) while the rest run, so the host works on them instead of waiting for
 * the whole frame (a 64-call frame of `auth.refresh` was answered in one piece after ~3 ms, and
 * each side idled while the other worked: bench/README.md, "auth").
 */
export const PARTIAL_RESULTS = 16;

/**
 * `detach`, when given, receives the results of `detached` methods (Argon2id) as they finish;
 * they are left out of the frame's own results, so a slow hash holds up neither the rest of its
 * frame nor later frames. `partial`, when given, receives the results ready so far every
 * PARTIAL_RESULTS results; the returned frame holds the rest (and any results `partial` threw
 * on: see sendAhead). The client matches results by id, in whatever frame they come. The calls
 * start one after the other, in order; an `overlapping` method (auth.refresh: its state is read
 * before its first await, then it signs on the thread pool) is not awaited before the next call
 * starts, so signatures run on other threads while this one frames and validates. At most
 * 2 × PARTIAL_RESULTS such results are outstanding.
 */
export async function dispatchFrame(
  state: EnclaveState,
  frame: unknown,
  detach?: (result: Result) => void,
  partial?: (results: Result[]) => void,
): Promise<ResponseFrame> {
  const parsed = RequestFrameSchema.safeParse(frame);
  if (!parsed.success) return { error: new RpcError('FRAME_INVALID').toBody() };
  let group: (Result | Promise<Result>)[] = [];
  const ahead: Promise<Result[]>[] = [];
  const done: Result[] = [];
  const { calls } = parsed.data;
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i]!;
    if (detach && isFlagged(call.method, 'detached')) void dispatchCall(state, call).then(detach);
    else if (isFlagged(call.method, 'overlapping')) group.push(dispatchCall(state, call));
    else group.push(await dispatchCall(state, call));
    if (group.length >= PARTIAL_RESULTS && i < calls.length - 1) {
      // Without `partial`, the group is awaited here: it bounds the calls in flight all the same.
      const ready = Promise.all(group);
      group = [];
      if (partial) ahead.push(ready.then((results) => sendAhead(partial, results)));
      else done.push(...(await ready));
      if (ahead.length >= 2) done.push(...(await ahead.shift()!));
    }
  }
  for (const held of await Promise.all(ahead)) done.push(...held);
  done.push(...(await Promise.all(group)));
  return { results: done };
}

/**
 * Hands `results` to `partial`; returns those the final response must carry instead. A throwing
 * callback must not reject here: nothing may await that promise yet, and an unhandled rejection
 * ends the enclave. Its results then go out with the frame's final response, in call order (a
 * result the callback did send before throwing comes twice; the client keeps the first).
 */
function sendAhead(partial: (results: Result[]) => void, results: Result[]): Result[] {
  try {
    partial(results);
    return [];
  } catch {
    return results;
  }
}

/** A method flag is set only when its table entry says `true` (not merely when the key exists). */
function isFlagged(method: string, flag: 'detached' | 'overlapping'): boolean {
  return isMethodName(method) && (METHODS[method] as Record<string, unknown>)[flag] === true;
}

async function dispatchCall(state: EnclaveState, call: Call): Promise<Result> {
  try {
    if (!isMethodName(call.method)) throw new RpcError('METHOD_UNKNOWN');
    const spec = METHODS[call.method];
    if (!spec.phases.includes(state.phase)) throw new RpcError('PHASE_FORBIDDEN');
    const params = spec.params.safeParse(call.params);
    if (!params.success) throw new RpcError('PARAMS_INVALID');
    const handler = HANDLERS[call.method] as Handler<typeof call.method>;
    const result = await handler(state, params.data as never);
    // The result schema is an allow-list: a field it does not name never leaves the enclave.
    return { id: call.id, ok: true, result: spec.result.parse(result) };
  } catch (err) {
    return { id: call.id, ok: false, error: toErrorBody(err) };
  }
}
