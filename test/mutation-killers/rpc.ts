/** Calls through the real dispatcher on an in-process enclave, as the host's RPC client makes them. */
import assert from 'node:assert/strict';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import type { MethodName, MethodResult } from '../../src/protocol/rpc/methods.js';
import type { TestEnclave } from '../helpers/enclave-state.js';

export type Answer = { ok: true; result: unknown } | { ok: false; error: { code: string } };

export async function rpc(t: TestEnclave, method: string, params: unknown): Promise<Answer> {
  const frame = await dispatchFrame(t.state, { calls: [{ id: 1, method, params }] });
  assert.ok('results' in frame, JSON.stringify(frame));
  return frame.results[0] as Answer;
}

/** The result of a call that must succeed. */
export async function ok<M extends MethodName>(
  t: TestEnclave,
  method: M,
  params: unknown,
): Promise<MethodResult<M>> {
  const a = await rpc(t, method, params);
  assert.ok(a.ok, `${method}: ${JSON.stringify(a)}`);
  return a.result as MethodResult<M>;
}

/** 'ok', or the error code the enclave answered. */
export async function code(t: TestEnclave, method: string, params: unknown): Promise<string> {
  const a = await rpc(t, method, params);
  return a.ok ? 'ok' : a.error.code;
}
