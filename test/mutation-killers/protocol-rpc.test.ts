/**
 * src/protocol/rpc for the mutation run (MUTATION_SCOPE=protocol-rpc, docs/mutation-testing.md):
 * each error code's fixed message against docs/protocol/enclave-rpc.md, the frame limits and
 * the stream decoder, each method's phases against the same document, and the params and
 * result schemas of the method table at the edges of their bounds (every regex: both lengths,
 * each character range's ends, the characters just outside, both anchors). The service tests
 * prove the methods work; these prove each check is needed on its own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import {
  isRpcErrorCode,
  RPC_ERROR_CODES,
  RPC_ERROR_MESSAGES,
  RpcError,
} from '../../src/protocol/rpc/errors.js';
import {
  CallSchema,
  encodeFrame,
  FrameDecoder,
  MAX_CALLS_PER_FRAME,
  MAX_FRAME_BYTES,
  RequestFrameSchema,
  ResponseFrameSchema,
  ResultSchema,
} from '../../src/protocol/rpc/frame.js';
import { isMethodName, METHODS, PHASES, SEAL_POLICIES } from '../../src/protocol/rpc/methods.js';
import { dispatchFrame, toErrorBody } from '../../src/enclave/dispatcher.js';
import { EnvelopeError } from '../../src/protocol/envelope/errors.js';
import { WalletError } from '../../src/protocol/wallet/errors.js';
import { MAX_OPERATORS } from '../../src/protocol/cluster/cluster.js';
import {
  CredentialId,
  MethodBindingSchema,
  OtpPurposeSchema,
  PendingRecoveryMac,
  RecoveryCode,
  RecoveryCompletionCode,
  RecoveryMac,
  RefreshTokenSchema,
  SealedTotp,
  TotpCode,
} from '../../src/protocol/rpc/auth-methods.js';
import { SpendCounterSchema, WalletAccountSchema } from '../../src/protocol/rpc/wallet-methods.js';

import { testEnclave } from '../helpers/enclave-state.js';

const doc = readFileSync(new URL('../../docs/protocol/enclave-rpc.md', import.meta.url), 'utf8');

type Schema = z.ZodType;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking zod's internals
type Any = any;

const ok = (s: Schema, v: unknown, what = JSON.stringify(v)?.slice(0, 80)) =>
  assert.ok(s.safeParse(v).success, `accepted: ${what}`);
const no = (s: Schema, v: unknown, what = JSON.stringify(v)?.slice(0, 80)) =>
  assert.ok(!s.safeParse(v).success, `refused: ${what}`);

/** The schema of member `key` of a method's params (or result), through nullable/optional. */
function member(
  m: keyof typeof METHODS,
  key: string,
  side: 'params' | 'result' = 'params',
): Schema {
  return (METHODS[m][side] as Any).shape[key] as Schema;
}
function inner(s: Schema): Schema {
  return (s as Any).unwrap() as Schema;
}

const B64URL = {
  good: ['A', 'Z', 'a', 'z', '0', '9', '_', '-'],
  bad: ['@', '[', '`', '{', '/', ':', '+', '=', '.', ' '],
};
const B64 = {
  good: ['A', 'Z', 'a', 'z', '0', '9', '+', '/', '='],
  bad: ['@', '[', '`', '{', '.', ':', '-', '_', ' '],
};
const DIGIT = { good: ['0', '9'], bad: ['/', ':', 'a', ' '] };
const HEX_ANY_CASE = { good: ['0', '9', 'a', 'f', 'A', 'F'], bad: ['/', ':', '`', 'g', '@', 'G'] };
const HEX_LOWER = { good: ['0', '9', 'a', 'f'], bad: ['/', ':', '`', 'g', 'A', 'F'] };
const ALNUM = {
  good: ['A', 'Z', 'a', 'z', '0', '9'],
  bad: ['@', '[', '`', '{', '/', ':', '-', '_'],
};

/**
 * A token `prefix` + between `min` and `max` characters of one class + `suffix`: both lengths
 * accepted, one fewer and one more refused, each end of each range accepted, the characters
 * just outside refused, and anything before or after the token refused.
 */
function token(
  s: Schema,
  t: {
    prefix?: string;
    suffix?: string;
    min: number;
    max: number;
    cls: { good: string[]; bad: string[] };
  },
) {
  const pre = t.prefix ?? '';
  const suf = t.suffix ?? '';
  const fill = t.cls.good[0]!;
  const make = (n: number, c = fill) => pre + c + fill.repeat(n - 1) + suf;
  ok(s, make(t.min));
  ok(s, make(t.max));
  if (t.min > 1) no(s, make(t.min - 1));
  else no(s, pre + suf);
  no(s, make(t.max + 1));
  for (const c of t.cls.good) {
    ok(s, make(t.min, c), `char ${c}`);
    ok(s, pre + fill.repeat(t.min - 1) + c + suf, `last char ${c}`);
  }
  for (const c of t.cls.bad) {
    no(s, make(t.min, c), `char ${JSON.stringify(c)}`);
    no(s, pre + fill.repeat(t.min - 1) + c + suf, `last char ${JSON.stringify(c)}`);
  }
  no(s, ' ' + make(t.min), 'leading text');
  no(s, make(t.min) + ' ', 'trailing text');
  no(s, 'x' + make(t.max), 'leading text at max');
  no(s, make(t.max) + 'x', 'trailing text at max');
  if (pre.endsWith('.') || pre === '0x')
    no(s, 'x' + pre.slice(1) + fill.repeat(t.min) + suf, 'another prefix');
}

/** A string schema bounded by length only. */
function lengths(s: Schema, min: number, max: number, c = 'a') {
  if (min > 0) ok(s, c.repeat(min));
  if (min > 0) no(s, c.repeat(min - 1));
  ok(s, c.repeat(max));
  no(s, c.repeat(max + 1));
}

/** An integer schema from `min` (and to `max`). */
function ints(s: Schema, min: number, max?: number) {
  ok(s, min);
  no(s, min - 1);
  no(s, min + 0.5);
  if (max !== undefined) {
    ok(s, max);
    no(s, max + 1);
  } else ok(s, Number.MAX_SAFE_INTEGER);
}

/** An array schema of `item` from `min` to `max` entries. */
function arrays(s: Schema, item: unknown, min: number, max: number) {
  ok(s, Array(max).fill(item));
  no(s, Array(max + 1).fill(item));
  if (min > 0) {
    ok(s, Array(min).fill(item));
    no(s, Array(min - 1).fill(item));
  } else ok(s, []);
}

const UUID = '0b5f8a0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
const B64_32 = Buffer.alloc(32, 7).toString('base64');
const HEX32 = 'ab'.repeat(32);

describe('errors.ts: the closed set of error codes', () => {
  // docs/protocol/enclave-rpc.md, "Error codes": `code` | message | HTTP status.
  const section = doc.slice(doc.indexOf('\n## Error codes'), doc.indexOf('\n## Host client'));
  const documented = new Map<string, string>();
  // The first table (code | message | HTTP); a later table explains some codes at length.
  for (const m of section.matchAll(/^\| `([A-Z_]+)` +\| (.+?) +\| [^|]+\|$/gm))
    if (!documented.has(m[1]!)) documented.set(m[1]!, m[2]!);

  // The auth codes' rows explain the code at length instead of giving its message: their fixed
  // messages, as the enclave sends them.
  const AUTH_MESSAGES: Record<string, string> = {
    AUTH_SIWE_INVALID: 'the SIWE message is malformed or names another domain, URI or chain',
    AUTH_SIWE_NONCE_INVALID: 'the SIWE nonce is unknown, expired or already used',
    AUTH_SIWE_EXPIRED: 'the SIWE message is expired, not yet valid or issued in the future',
    AUTH_SIWE_SIGNATURE_INVALID: 'the signature does not come from the address in the message',
    AUTH_OTP_INVALID: 'the code is wrong, expired or was never sent',
    AUTH_OTP_LOCKED: 'too many wrong codes; ask for a new one',
    AUTH_OTP_SEND_LIMIT: 'too many codes were sent to this address in the last hour',
    AUTH_MAIL_UNAVAILABLE: 'the enclave could not send the mail',
    AUTH_TOKEN_INVALID: 'the access token is not one this enclave signed, or it has expired',
    AUTH_PASSKEY_INVALID: 'the passkey ceremony did not verify',
    AUTH_MFA_REQUIRED: 'this account has a second factor and none was given',
    AUTH_MFA_INVALID: 'the second-factor code is wrong, already used or expired',
    AUTH_METHOD_BINDING_INVALID:
      'the stored login method was not bound to this account by the enclave',
    AUTH_RECOVERY_INVALID: 'the pending recovery was not made by this enclave or was altered',
    AUTH_RECOVERY_LOCKED: 'the recovery time-lock has not run out yet',
  };

  it('every code has exactly its documented message, and the document names no other', () => {
    assert.ok(RPC_ERROR_CODES.length >= 70, String(RPC_ERROR_CODES.length));
    assert.deepEqual(RPC_ERROR_CODES, Object.keys(RPC_ERROR_MESSAGES));
    for (const code of RPC_ERROR_CODES) {
      assert.equal(RPC_ERROR_MESSAGES[code], AUTH_MESSAGES[code] ?? documented.get(code), code);
    }
    assert.deepEqual([...documented.keys()].sort(), [...RPC_ERROR_CODES].sort());
  });

  it('RpcError carries the code and its fixed message, by name and in its body', () => {
    for (const code of RPC_ERROR_CODES) {
      const e = new RpcError(code);
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'RpcError');
      assert.equal(e.code, code);
      assert.equal(e.message, RPC_ERROR_MESSAGES[code]);
      assert.deepEqual(e.toBody(), { code, message: RPC_ERROR_MESSAGES[code] });
      assert.deepEqual(Object.keys(e.toBody()), ['code', 'message']);
    }
  });

  it('isRpcErrorCode: own keys only, strings only', () => {
    assert.equal(isRpcErrorCode('INTERNAL'), true);
    assert.equal(isRpcErrorCode('PARAMS_INVALID'), true);
    assert.equal(isRpcErrorCode('NOT_A_CODE'), false);
    assert.equal(isRpcErrorCode('toString'), false);
    assert.equal(isRpcErrorCode('constructor'), false);
    assert.equal(isRpcErrorCode(''), false);
    assert.equal(isRpcErrorCode(undefined), false);
    assert.equal(isRpcErrorCode(null), false);
    assert.equal(isRpcErrorCode(1), false);
    assert.equal(isRpcErrorCode({ toString: () => 'INTERNAL' }), false);
    assert.equal(isRpcErrorCode(['INTERNAL']), false);
  });
});

describe("the dispatcher's error bodies", () => {
  it('an RPC, envelope or wallet error keeps its code and fixed message; anything else is INTERNAL', () => {
    const body = (code: keyof typeof RPC_ERROR_MESSAGES) => ({
      code,
      message: RPC_ERROR_MESSAGES[code],
    });
    assert.deepEqual(toErrorBody(new RpcError('JOBS_BUSY')), body('JOBS_BUSY'));
    assert.deepEqual(toErrorBody(new EnvelopeError('ENVELOPE_STALE')), body('ENVELOPE_STALE'));
    assert.deepEqual(toErrorBody(new WalletError('WALLET_NOT_READY')), body('WALLET_NOT_READY'));
    assert.deepEqual(
      toErrorBody(new WalletError('POLICY_DENIED', { index: 0, type: 'x' })),
      body('POLICY_DENIED'),
    );
    assert.deepEqual(toErrorBody(new Error('WALLET_NOT_READY')), body('INTERNAL'));
    assert.deepEqual(toErrorBody({ code: 'JOBS_BUSY' }), body('INTERNAL'));
  });
});

describe('frame.ts: frames, calls and the stream decoder', () => {
  it('the limits are the documented ones', () => {
    assert.equal(MAX_FRAME_BYTES, 8_388_608);
    assert.equal(MAX_CALLS_PER_FRAME, 1024);
    assert.match(doc, /\| max body \(`MAX_FRAME_BYTES`\), both directions +\| 8 388 608 bytes/);
  });

  it('a call: id an integer from 0 to 2^53 - 1, method up to 64 characters, nothing else', () => {
    const call = { id: 0, method: 'enclave.status', params: {} };
    ok(CallSchema, call);
    ok(CallSchema, { ...call, id: Number.MAX_SAFE_INTEGER });
    no(CallSchema, { ...call, id: Number.MAX_SAFE_INTEGER + 1 });
    no(CallSchema, { ...call, id: -1 });
    no(CallSchema, { ...call, id: 1.5 });
    no(CallSchema, { ...call, id: '1' });
    ok(CallSchema, { ...call, method: 'm'.repeat(64) });
    no(CallSchema, { ...call, method: 'm'.repeat(65) });
    no(CallSchema, { ...call, method: 1 });
    no(CallSchema, { ...call, extra: 1 });
  });

  it('a request frame: 1 to 1024 calls, nothing else', () => {
    const call = { id: 1, method: 'enclave.status', params: {} };
    no(RequestFrameSchema, { calls: [] });
    ok(RequestFrameSchema, { calls: [call] });
    ok(RequestFrameSchema, { calls: Array(1024).fill(call) });
    no(RequestFrameSchema, { calls: Array(1025).fill(call) });
    no(RequestFrameSchema, { calls: [call], more: 1 });
    no(RequestFrameSchema, { calls: [{ ...call, id: -1 }] });
  });

  it('results and response frames are strict on both branches', () => {
    const good = { id: 1, ok: true, result: { a: 1 } };
    const bad = {
      id: 2,
      ok: false,
      error: { code: 'INTERNAL', message: 'internal enclave error' },
    };
    ok(ResultSchema, good);
    ok(ResultSchema, bad);
    no(ResultSchema, { ...good, ok: false });
    no(ResultSchema, { ...bad, ok: true });
    no(ResultSchema, { ...good, x: 1 });
    no(ResultSchema, { ...bad, x: 1 });
    no(ResultSchema, { ...good, id: 1.5 });
    no(ResultSchema, { ...bad, id: 1.5 });
    no(ResultSchema, { ...bad, error: { code: 'INTERNAL' } });
    no(ResultSchema, { ...bad, error: { ...bad.error, stack: 'x' } });
    no(ResultSchema, { ...bad, error: { code: 1, message: 'm' } });
    ok(ResponseFrameSchema, { results: [good, bad] });
    ok(ResponseFrameSchema, { results: [] });
    ok(ResponseFrameSchema, { error: bad.error });
    no(ResponseFrameSchema, { results: [good], x: 1 });
    no(ResponseFrameSchema, { error: bad.error, x: 1 });
    no(ResponseFrameSchema, { error: { ...bad.error, x: 1 } });
    no(ResponseFrameSchema, {});
  });

  it('encodeFrame: a big-endian length and the JSON; refuses what JSON cannot hold, and over the limit', () => {
    const out = encodeFrame({ a: 1 });
    assert.deepEqual([...out.subarray(0, 4)], [0, 0, 0, 7]);
    assert.equal(Buffer.from(out.subarray(4)).toString(), '{"a":1}');
    const long = encodeFrame('x'.repeat(300));
    assert.deepEqual([...long.subarray(0, 4)], [0, 0, 1, 0x2e]);
    assert.throws(
      () => encodeFrame(undefined),
      (e: unknown) => (e as RpcError).code === 'FRAME_INVALID',
    );
    assert.throws(
      () => encodeFrame(() => 1),
      (e: unknown) => (e as RpcError).code === 'FRAME_INVALID',
    );
    // The limit is on the body: '"xx"' is 4 bytes.
    assert.equal(encodeFrame('xx', 4).length, 8);
    assert.throws(
      () => encodeFrame('xxx', 4),
      (e: unknown) => (e as RpcError).code === 'FRAME_TOO_LARGE',
    );
    assert.equal(encodeFrame('x'.repeat(MAX_FRAME_BYTES - 2)).length, MAX_FRAME_BYTES + 4);
    assert.throws(
      () => encodeFrame('x'.repeat(MAX_FRAME_BYTES - 1)),
      (e: unknown) => (e as RpcError).code === 'FRAME_TOO_LARGE',
    );
  });

  it('FrameDecoder: byte by byte, several frames in one chunk, a header split across chunks', () => {
    const a = encodeFrame({ a: 1 });
    const b = encodeFrame(['x'.repeat(260)]);
    const both = new Uint8Array([...a, ...b]);
    assert.deepEqual(new FrameDecoder().push(both), [{ a: 1 }, ['x'.repeat(260)]]);
    const d = new FrameDecoder();
    const got: unknown[] = [];
    for (const byte of both) got.push(...d.push(Uint8Array.of(byte)));
    assert.deepEqual(got, [{ a: 1 }, ['x'.repeat(260)]]);
    // Two bytes, then the rest of the header with part of the body, then the rest.
    const d2 = new FrameDecoder();
    assert.deepEqual(d2.push(b.subarray(0, 2)), []);
    assert.deepEqual(d2.push(b.subarray(2, 10)), []);
    assert.deepEqual(d2.push(new Uint8Array([...b.subarray(10), ...a.subarray(0, 3)])), [
      ['x'.repeat(260)],
    ]);
    assert.deepEqual(d2.push(a.subarray(3)), [{ a: 1 }]);
    assert.deepEqual(d2.push(new Uint8Array(0)), []);
  });

  it('FrameDecoder: the limit, checked on the header alone; bytes that are not JSON', () => {
    const f = encodeFrame('xx'); // 4-byte body
    assert.deepEqual(new FrameDecoder(4).push(f), ['xx']);
    const big = encodeFrame('xxx');
    assert.throws(
      () => new FrameDecoder(4).push(big.subarray(0, 4)),
      (e: unknown) => (e as RpcError).code === 'FRAME_TOO_LARGE',
    );
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
    assert.throws(
      () => new FrameDecoder().push(head),
      (e: unknown) => (e as RpcError).code === 'FRAME_TOO_LARGE',
    );
    new DataView(head.buffer).setUint32(0, MAX_FRAME_BYTES);
    assert.deepEqual(new FrameDecoder().push(head), []);
    const junk = new Uint8Array([0, 0, 0, 2, 0x7b, 0x7b]);
    assert.throws(
      () => new FrameDecoder().push(junk),
      (e: unknown) => (e as RpcError).code === 'FRAME_INVALID',
    );
  });
});

describe('methods.ts: the method table', () => {
  it('phases, seal policies and method names', () => {
    assert.deepEqual(PHASES, ['awaiting_keyring', 'awaiting_quorum', 'ready']);
    assert.deepEqual(SEAL_POLICIES, ['signer', 'measurement']);
    assert.equal(isMethodName('enclave.status'), true);
    assert.equal(isMethodName('wallet.sign'), true);
    assert.equal(isMethodName('toString'), false);
    assert.equal(isMethodName('hasOwnProperty'), false);
    assert.equal(isMethodName('nope.method'), false);
  });

  // The method table of docs/protocol/enclave-rpc.md: `name` (detached|overlapping)? | phases |.
  const rows = [
    ...doc.matchAll(/^\| `([a-z_]+\.[a-z_]+)`( \((?:detached|overlapping)\))? +\| ([a-z_]+) +\|/gm),
  ];

  it("each method's phases are the documented ones, and the table names every method", () => {
    assert.deepEqual(rows.map((r) => r[1]).sort(), Object.keys(METHODS).sort());
    for (const [, name, , phases] of rows) {
      const want = phases === 'all' ? [...PHASES] : [phases];
      assert.deepEqual([...METHODS[name as keyof typeof METHODS].phases], want, name);
    }
    // The overlapping methods (dispatcher.ts starts the next call while they sign) are the documented ones.
    const overlapping = Object.entries(METHODS)
      .filter(([, m]) => (m as { overlapping?: boolean }).overlapping === true)
      .map(([name]) => name);
    assert.deepEqual(overlapping, ['auth.refresh']);
    assert.deepEqual(
      rows.filter((r) => r[2] === ' (overlapping)').map((r) => r[1]),
      overlapping,
    );
  });

  it('exactly the documented methods are detached: their results come through the callback', async () => {
    const t = testEnclave();
    const names = Object.keys(METHODS);
    const detached: number[] = [];
    let expected = Infinity;
    let allIn = () => {};
    const arrived = new Promise<void>((r) => (allIn = r));
    const frame = await dispatchFrame(
      t.state,
      { calls: names.map((method, id) => ({ id, method, params: { x: 1 } })) },
      (r) => {
        detached.push(r.id);
        if (detached.length === expected) allIn();
      },
    );
    const inline = (frame as { results: { id: number }[] }).results.map((r) => r.id);
    expected = names.length - inline.length;
    if (detached.length === expected) allIn();
    await arrived;
    const want = rows
      .filter((r) => r[2] === ' (detached)')
      .map((r) => r[1])
      .sort();
    assert.equal(want.length, 7);
    assert.deepEqual(detached.map((id) => names[id]).sort(), want);
    assert.equal(inline.length + detached.length, names.length);
  });

  it('seal policy, sealed blobs, generations', () => {
    const policy = member('keyring.generate', 'policy');
    ok(policy, 'signer');
    ok(policy, 'measurement');
    no(policy, '');
    no(policy, 'other');
    const sealed = member('keyring.unseal', 'sealed');
    ok(sealed, 'AA==');
    no(sealed, '');
    ok(sealed, Buffer.alloc(1024 * 1024, 1).toString('base64'));
    no(sealed, Buffer.alloc(1024 * 1024 + 1, 1).toString('base64'));
    ints(member('keyring.activate', 'generation'), 1);
    ints(member('keyring.prepare_rotation', 'generation', 'result'), 1);
    ok(METHODS['keyring.prepare_rotation'].params, {});
    no(METHODS['keyring.prepare_rotation'].params, { x: 1 });
  });

  it('log.init and log.append bounds', () => {
    const cp = inner(member('log.init', 'checkpoint'));
    lengths(cp, 1, 64 * 1024);
    ok(member('log.init', 'checkpoint'), null);
    arrays(member('log.init', 'frontier'), B64_32, 0, 64);
    const head = inner(member('log.append', 'head')) as Any;
    arrays(head.shape.frontier, B64_32, 0, 64);
    arrays(head.shape.proof, B64_32, 0, 128);
    lengths(head.shape.checkpoint, 1, 64 * 1024);
    ints(member('log.init', 'size', 'result'), 0);
    ints(member('log.append', 'size', 'result'), 1);
    ints(member('log.append', 'first_index', 'result'), 0);
  });

  it('aggregates bounds', () => {
    const from = member('aggregates.start', 'from');
    ok(from, null);
    ok(from, 0);
    ok(from, 8.64e15);
    no(from, 8.64e15 + 1);
    no(from, -1);
    ints(member('aggregates.start', 'to'), 0, 8.64e15);
    const symbols = member('aggregates.start', 'symbols');
    ok(symbols, null);
    arrays(inner(symbols), 'BTC/USDT', 1, 200);
    arrays(member('aggregates.cancel', 'job_ids'), UUID, 1, 256);
    arrays(member('aggregates.poll', 'job_ids'), UUID, 0, 256);
    arrays(member('aggregates.poll', 'ack'), UUID, 0, 256);
  });

  it('job views: each state with exactly its members, the error code pattern', () => {
    const jobs = member('aggregates.poll', 'jobs', 'result') as Any;
    const view = jobs.element as Schema;
    const progress = { requests: 0, fills: 0, rate_limit_waits: 0, rate_limit_wait_ms: 0 };
    for (const state of ['running', 'cancelled']) {
      ok(view, { job_id: UUID, state, progress });
      no(view, { job_id: UUID, state, progress, error: 'X' });
    }
    ok(view, { job_id: UUID, state: 'unknown' });
    no(view, { job_id: UUID, state: 'unknown', progress });
    no(view, { job_id: UUID, state: 'other', progress });
    for (const k of Object.keys(progress)) {
      no(view, { job_id: UUID, state: 'running', progress: { ...progress, [k]: -1 } }, k);
      no(view, { job_id: UUID, state: 'running', progress: { ...progress, [k]: 0.5 } }, k);
    }
    const failed = (error: string) => ({ job_id: UUID, state: 'failed', progress, error });
    ok(view, failed('AB'));
    ok(view, failed('Z' + '_'.repeat(63)));
    ok(view, failed('A09_Z'));
    no(view, failed('A'));
    no(view, failed('A' + 'B'.repeat(64)));
    no(view, failed('1AB'));
    no(view, failed('_AB'));
    no(view, failed('aBC'));
    no(view, failed('ABc'));
    no(view, failed('AB-'));
    no(view, failed(' AB'));
    no(view, failed('AB '));
    no(view, failed('@AB'));
    no(view, failed('[AB'));
    no(view, failed('A@'));
    no(view, failed('A['));
    no(view, failed('A/'));
    no(view, failed('A:'));
    const result = {
      payload_jcs: '{}',
      signature: Buffer.alloc(64, 1).toString('base64'),
      payload_digest: HEX32,
      signed_at: 0,
      account_salt: B64_32,
    };
    ok(view, { job_id: UUID, state: 'done', progress, result });
    no(view, { job_id: UUID, state: 'done', progress, result: { ...result, payload_jcs: '{' } });
    no(view, { job_id: UUID, state: 'done', progress, result: { ...result, x: 1 } });
    ok(view, {
      job_id: UUID,
      state: 'done',
      progress,
      result: { ...result, payload_jcs: 'x'.repeat(4 * 1024 * 1024) },
    });
    no(view, {
      job_id: UUID,
      state: 'done',
      progress,
      result: { ...result, payload_jcs: 'x'.repeat(4 * 1024 * 1024 + 1) },
    });
  });

  it('cluster bounds: operators, threshold, measurements, the threshold rule, age files', () => {
    const p = METHODS['cluster.genesis'].params as Any;
    ints(p.shape.threshold, 2, MAX_OPERATORS);
    arrays(p.shape.measurements, 'ab'.repeat(48), 1, 64);
    assert.equal(p.shape.operators.safeParse([]).success, false);
    const shares = (METHODS['cluster.genesis'].result as Any).shape.shares.element as Schema;
    const share = { operator: 'o', index: 1, file: '-----BEGIN AGE ENCRYPTED FILE-----\nabc' };
    ok(shares, share);
    no(shares, { ...share, file: 'abc\n-----BEGIN AGE ENCRYPTED FILE-----' });
    no(shares, { ...share, file: '-----BEGIN AGE ENCRYPTED FILE----' });
    no(shares, { ...share, index: 0 });
    const reshareShares = (METHODS['cluster.reshare'].result as Any).shape.shares.element as Schema;
    ok(reshareShares, share);
    no(reshareShares, { ...share, file: 'abc\n-----BEGIN AGE ENCRYPTED FILE-----' });
    no(reshareShares, { ...share, file: '' });
    ints(member('test.block_event_loop', 'ms'), 1, 600_000);
  });

  it("cluster.genesis: the threshold may not exceed the operators' count", () => {
    const p = METHODS['cluster.genesis'].params as Any;
    const base = {
      measurements: ['ab'.repeat(48)],
      platform: { name: 'simulated', allow_debug: true },
      nonce: 'n'.repeat(16),
    };
    // Operators as the schema takes them, found by trying the documented shape.
    const op = p.shape.operators.element as Schema;
    const operator = { name: 'alice', recipient: 'age1' + 'q'.repeat(58) };
    ok(op, operator);
    // No two operators alike (operatorListSchema): each its own name and recipient.
    const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    const distinct = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        name: `op${i}`,
        recipient: 'age1' + CHARSET[i % 32]! + CHARSET[Math.floor(i / 32)]! + 'q'.repeat(56),
      }));
    const ops = distinct(2);
    ok(p.shape.operators, distinct(MAX_OPERATORS));
    no(p.shape.operators, distinct(MAX_OPERATORS + 1));
    no(p.shape.operators, distinct(1));
    no(p.shape.operators, [operator, operator]);
    assert.equal(p.safeParse({ ...base, operators: ops, threshold: 2 }).success, true);
    assert.equal(p.safeParse({ ...base, operators: ops, threshold: 3 }).success, false);
  });
});

describe('auth-methods.ts: tokens, codes and bounds', () => {
  it('refresh tokens: rt1, 22 characters, 1 to 12 digits, 43 characters', () => {
    const s = RefreshTokenSchema;
    const a = 'A'.repeat(22);
    const c = 'A'.repeat(43);
    ok(s, `rt1.${a}.1.${c}`);
    ok(s, `rt1.${a}.${'9'.repeat(12)}.${c}`);
    no(s, `rt1.${a}..${c}`);
    no(s, `rt1.${a}.${'9'.repeat(13)}.${c}`);
    no(s, `rt1.${a}.a.${c}`);
    no(s, `rt1.${a}./.${c}`);
    no(s, `rt1.${a}.:.${c}`);
    ok(s, `rt1.${a}.0.${c}`);
    token(s, { prefix: 'rt1.', suffix: `.1.${c}`, min: 22, max: 22, cls: B64URL });
    token(s, { prefix: `rt1.${a}.1.`, min: 43, max: 43, cls: B64URL });
    no(s, `rt1x${a}.1.${c}`);
    no(s, `rt1.${a}x1.${c}`);
    no(s, `rt1.${a}.1x${c}`);
  });

  it('sealed passwords (ph1.), sealed TOTP secrets (ts1.), bindings (mb1.)', () => {
    const sealedPassword = member('auth.password_reset', 'password_sealed', 'result');
    token(sealedPassword, { prefix: 'ph1.', min: 40, max: 1024, cls: B64 });
    no(sealedPassword, 'ph1x' + 'A'.repeat(40));
    token(SealedTotp, { prefix: 'ts1.', min: 40, max: 200, cls: B64 });
    no(SealedTotp, 'ts1x' + 'A'.repeat(40));
    token(MethodBindingSchema, { prefix: 'mb1.', min: 43, max: 43, cls: B64URL });
    no(MethodBindingSchema, 'mb1x' + 'A'.repeat(43));
  });

  it('passkey ids and keys, counters, MACs and completion codes', () => {
    token(CredentialId, { min: 16, max: 1366, cls: B64URL });
    const cred = (METHODS['auth.passkey_register_verify'].result as Any).shape;
    token(cred.public_key, { min: 40, max: 2048, cls: B64URL });
    ints(cred.counter, 0, 0xffffffff);
    token(RecoveryMac, { min: 43, max: 43, cls: B64URL });
    token(PendingRecoveryMac, { min: 43, max: 43, cls: B64URL });
    token(RecoveryCompletionCode, { min: 22, max: 22, cls: B64URL });
  });

  it('six-digit codes, in every method that takes one', () => {
    const codes: Schema[] = [
      TotpCode,
      member('auth.password_reset', 'code'),
      member('auth.recovery_confirm', 'code'),
      member('auth.otp_verify', 'code'),
      member('auth.confirm_email', 'code'),
      member('auth.email_link', 'code'),
      member('auth.step_up_email', 'code'),
    ];
    for (const s of codes) token(s, { min: 6, max: 6, cls: DIGIT });
  });

  it('recovery codes: five and five alphanumerics, dash optional', () => {
    ok(RecoveryCode, 'ABCDE-FGHJK');
    ok(RecoveryCode, 'abcde01239');
    ok(RecoveryCode, 'AZaz0-9zZaA');
    no(RecoveryCode, 'ABCDE--FGHJK');
    no(RecoveryCode, 'ABCD-EFGHJK');
    no(RecoveryCode, 'ABCDEF-GHJK');
    token(RecoveryCode, { suffix: '-AAAAA', min: 5, max: 5, cls: ALNUM });
    token(RecoveryCode, { prefix: 'AAAAA-', min: 5, max: 5, cls: ALNUM });
    token(RecoveryCode, { prefix: 'AAAAA', min: 5, max: 5, cls: ALNUM });
  });

  it('SIWE: nonce, signature, address, message length', () => {
    token(member('auth.siwe_nonce', 'nonce', 'result'), { min: 24, max: 24, cls: HEX_LOWER });
    for (const m of ['auth.siwe_login', 'auth.siwe_link'] as const) {
      token(member(m, 'signature'), { prefix: '0x', min: 130, max: 130, cls: HEX_ANY_CASE });
      no(member(m, 'signature'), '1x' + 'a'.repeat(130));
      lengths(member(m, 'message'), 1, 8192);
    }
    token(member('auth.siwe_link', 'address', 'result'), {
      prefix: '0x',
      min: 40,
      max: 40,
      cls: HEX_ANY_CASE,
    });
    token(member('auth.siwe_login', 'address', 'result'), {
      prefix: '0x',
      min: 40,
      max: 40,
      cls: HEX_ANY_CASE,
    });
  });

  it('access tokens and sealed keyrings: length bounds', () => {
    lengths(member('auth.siwe_link', 'access_token'), 10, 4096);
    lengths(member('auth.refresh_replay', 'sealed_response'), 1, 1024 * 1024);
    lengths(inner(member('auth.init', 'sealed')), 1, 1024 * 1024);
    lengths(member('auth.activate', 'sealed'), 1, 1024 * 1024);
    ok(member('auth.init', 'sealed'), null);
    ints(member('auth.activate', 'generation'), 1);
  });

  it('TOTP enrolment label: 1 to 128 characters, no white space, no colon', () => {
    const label = member('auth.totp_enroll', 'label');
    token(label, {
      min: 1,
      max: 128,
      cls: { good: ['a', 'Z', '0', '-', '.', '@', 'é'], bad: [' ', ':', '\t', '\n'] },
    });
    lengths(member('auth.totp_enroll', 'otpauth_uri', 'result'), 0, 512);
  });

  it('one-time code purposes', () => {
    for (const p of ['login', 'reset', 'confirm', 'recovery', 'step_up', 'link'])
      ok(OtpPurposeSchema, p);
    no(OtpPurposeSchema, '');
    no(OtpPurposeSchema, 'other');
    assert.deepEqual(OtpPurposeSchema.options, [
      'login',
      'reset',
      'confirm',
      'recovery',
      'step_up',
      'link',
    ]);
    const action = member('auth.password_set', 'action');
    ok(action, 'link');
    ok(action, 'change');
    no(action, '');
  });

  it('role lists, recovery MAC lists, passkey lists, the dev mail', () => {
    arrays(member('auth.refresh', 'roles'), 'operator', 0, 8);
    arrays(member('auth.step_up', 'recovery_macs'), 'A'.repeat(43), 0, 10);
    arrays(member('auth.passkey_register_options', 'exclude'), 'A'.repeat(16), 0, 32);
    arrays(member('auth.passkey_step_up_options', 'allow'), 'A'.repeat(16), 1, 32);
    lengths(member('auth.passkey_register_options', 'user_name'), 1, 128);
    const confirm = (METHODS['auth.totp_confirm'].result as Any).shape;
    arrays(confirm.recovery_codes, 'ABCDE-FGHJK', 10, 10);
    arrays(confirm.recovery_macs, 'A'.repeat(43), 10, 10);
    const mail = inner(member('auth.otp_start', 'dev_mail', 'result')) as Any;
    lengths(mail.shape.from, 0, 256);
    lengths(mail.shape.subject, 0, 256);
    lengths(mail.shape.text, 0, 4096);
    const confirmed = member('auth.confirm_email', 'confirmed', 'result');
    ok(confirmed, true);
    no(confirmed, false);
  });
});

describe('auth-methods.ts: nested objects', () => {
  const binding = 'mb1.' + 'A'.repeat(43);
  const user = { user_id: UUID, binding };

  it('a second factor: a TOTP code or a recovery code, one of them, nothing else', () => {
    const s = member('auth.step_up', 'second');
    ok(s, { totp_code: '123456' });
    ok(s, { recovery_code: 'ABCDE-FGHJK' });
    no(s, {});
    no(s, { totp_code: '123456', recovery_code: 'ABCDE-FGHJK' });
    no(s, { totp_code: '123456', x: 1 });
    no(s, { recovery_code: 'ABCDE-FGHJK', x: 1 });
    no(s, { totp_code: '12345' });
    ok(inner(member('auth.login', 'second')), { totp_code: '123456' });
  });

  it('the account of a reset or recovery: its id and binding, nothing else', () => {
    for (const m of ['auth.password_reset', 'auth.recovery_confirm'] as const) {
      const s = member(m, 'user');
      ok(s, user, m);
      no(s, { user_id: UUID }, m);
      no(s, { binding }, m);
      no(s, { ...user, x: 1 }, m);
    }
    // A confirmation also names the pending account's sealed password, checked against its own.
    const confirm = member('auth.confirm_email', 'user');
    const sealed = `ph1.${'A'.repeat(64)}`;
    ok(confirm, { ...user, password_sealed: sealed });
    no(confirm, user);
    no(confirm, { ...user, password_sealed: 'ph1.short' });
    no(confirm, { ...user, password_sealed: sealed, x: 1 });
  });

  it('a linked account: roles up to 8, and what a second factor needs (sealed TOTP, up to 10 MACs)', () => {
    const linked = inner(member('auth.siwe_login', 'user'));
    const full = { ...user, roles: [] };
    ok(linked, full);
    no(linked, { ...full, x: 1 });
    no(linked, { ...full, binding: undefined });
    arrays((linked as Any).shape.roles, 'operator', 0, 8);
    const totp = 'ts1.' + 'A'.repeat(40);
    ok(linked, { ...full, totp_sealed: totp, recovery_macs: ['A'.repeat(43)] });
    ok(linked, { ...full, totp_sealed: null });
    no(linked, { ...full, totp_sealed: 'x' });
    arrays((linked as Any).shape.recovery_macs, 'A'.repeat(43), 0, 10);
    no(linked, { ...full, recovery_macs: Array(11).fill('A'.repeat(43)) });
    const loginUser = inner(member('auth.login', 'user'));
    const lu = { user_id: UUID, password_sealed: 'ph1.' + 'A'.repeat(40), roles: [] };
    ok(loginUser, lu);
    ok(loginUser, { ...lu, totp_sealed: totp, recovery_macs: [] });
    no(loginUser, { ...lu, x: 1 });
    const cred = inner(member('auth.passkey_login_verify', 'credential'));
    const c = {
      user_id: UUID,
      credential_id: 'A'.repeat(16),
      public_key: 'A'.repeat(40),
      counter: 0,
      binding,
      roles: [],
    };
    ok(cred, c);
    ok(cred, { ...c, totp_sealed: totp, recovery_macs: ['A'.repeat(43)] });
    no(cred, { ...c, x: 1 });
  });
});

describe('methods.ts: nested results', () => {
  it('a keyring wrapped at genesis: generation from 1 and the sealed blob, nothing else', () => {
    const wrapped = member('cluster.genesis', 'wrapped', 'result') as Any;
    for (const k of ['credential', 'auth']) {
      const s = wrapped.shape[k] as Schema;
      ok(s, { generation: 1, sealed: 'AA==' }, k);
      no(s, { generation: 0, sealed: 'AA==' }, k);
      no(s, { generation: 1, sealed: '' }, k);
      no(s, { generation: 1, sealed: 'AA==', x: 1 }, k);
    }
    ok(wrapped.shape.wallet, null);
    ok(wrapped.shape.wallet, { generation: 2, sealed: 'AA==' });
  });
});

describe('wallet-methods.ts: records, accounts, spend counters', () => {
  it('accounts: chain, index, path, address', () => {
    const a = {
      chain: 'ethereum',
      index: 0,
      path: "m/44'/60'/0'/0/0",
      address: '0x' + 'a'.repeat(40),
    };
    ok(WalletAccountSchema, a);
    ok(WalletAccountSchema, { ...a, chain: 'solana' });
    no(WalletAccountSchema, { ...a, chain: '' });
    no(WalletAccountSchema, { ...a, chain: 'bitcoin' });
    ints(WalletAccountSchema.shape.index, 0, 0x7fffffff);
    lengths(WalletAccountSchema.shape.path, 0, 64);
    lengths(WalletAccountSchema.shape.address, 32, 64);
  });

  it('spend counters: the day, the amount in wei', () => {
    token(SpendCounterSchema.shape.day, { suffix: '-01-01', min: 4, max: 4, cls: DIGIT });
    token(SpendCounterSchema.shape.day, {
      prefix: '2026-',
      suffix: '-01',
      min: 2,
      max: 2,
      cls: DIGIT,
    });
    token(SpendCounterSchema.shape.day, { prefix: '2026-01-', min: 2, max: 2, cls: DIGIT });
    no(SpendCounterSchema.shape.day, '2026x01-01');
    no(SpendCounterSchema.shape.day, '2026-01x01');
    token(SpendCounterSchema.shape.spent_wei, { min: 1, max: 78, cls: DIGIT });
  });

  it('record bounds', () => {
    const r = (METHODS['wallet.add_account'].params as Any).shape.record.shape;
    lengths(r.user_id, 1, 64);
    ints(r.generation, 1);
    ints(r.version, 1);
    lengths(r.ethereum_xpub, 100, 120);
    const acct = { chain: 'solana', index: 0, path: 'p', address: 'a'.repeat(32) };
    arrays(r.accounts, acct, 1, 1000);
    const share = inner(r.server_share) as Any;
    lengths(share.shape.ciphertext, 4, 256);
    lengths(member('wallet.create', 'user_id'), 1, 64);
    lengths(inner(member('wallet.init', 'sealed')), 1, 1024 * 1024);
    ints(member('wallet.init', 'generation', 'result'), 1);
    ints(member('wallet.delete', 'generation', 'result'), 1);
    const mode = member('wallet.resplit', 'mode');
    ok(mode, 'recovery_complete');
    ok(mode, 'reshare');
    no(mode, '');
  });

  const record = {
    wallet_id: '0b5f8a0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b',
    user_id: 'u',
    generation: 1,
    version: 1,
    server_share: {
      nonce: Buffer.alloc(12, 1).toString('base64'),
      ciphertext: 'abcd',
      tag: Buffer.alloc(16, 1).toString('base64'),
    },
    ethereum_xpub: 'x'.repeat(111),
    accounts: [{ chain: 'solana', index: 0, path: 'p', address: 'a'.repeat(32) }],
    rules: [],
    recovery: null,
    mac: HEX32,
  };

  it('a record: its rules (up to 32) and recovery state; the methods that take and return one', () => {
    const r = (METHODS['wallet.add_account'].params as Any).shape.record as Schema;
    ok(r, record);
    no(r, { ...record, x: 1 });
    const rule = { type: 'deny_message_signing' };
    arrays((r as Any).shape.rules, rule, 0, 32);
    ok(r, { ...record, rules: [rule, { type: 'max_value_wei', value: '10' }] });
    ok(r, { ...record, recovery: { started_at: 1, unlock_at: 2 } });
    no(r, { ...record, recovery: { started_at: 1 } });
    no(r, { ...record, recovery: { started_at: 1, unlock_at: 2, x: 1 } });
    no(r, { ...record, recovery: { started_at: -1, unlock_at: 2 } });
    for (const m of [
      'wallet.add_account',
      'wallet.set_policy',
      'wallet.recovery_start',
      'wallet.recovery_cancel',
    ] as const) {
      ok(METHODS[m].params, { record, body: { share: 'x' } }, m);
      no(METHODS[m].params, { record, body: 'x' }, m);
      no(METHODS[m].params, { record }, m);
      no(METHODS[m].params, { record, body: {}, x: 1 }, m);
    }
    ok(METHODS['wallet.sign'].params, { record, body: {}, spend: null });
    ok(METHODS['wallet.resplit'].params, { record, body: {}, mode: 'reshare' });
    ok(METHODS['wallet.delete'].params, { record, body: {} });
    for (const m of [
      'wallet.set_policy',
      'wallet.recovery_start',
      'wallet.recovery_cancel',
    ] as const) {
      ok(METHODS[m].result, { record }, m);
      no(METHODS[m].result, { record, x: 1 }, m);
      no(METHODS[m].result, {}, m);
    }
  });

  it('a new split: both sealed shares, nothing else', () => {
    const b = (n: number) => Buffer.alloc(n, 1).toString('base64');
    const share = { ephemeral_pub: b(32), nonce: b(12), ciphertext: b(100), tag: b(16) };
    for (const m of ['wallet.create', 'wallet.resplit'] as const) {
      const shares = member(m, 'shares', 'result');
      ok(shares, { device: share, recovery: share }, m);
      no(shares, { device: share }, m);
      no(shares, { recovery: share }, m);
      no(shares, { device: share, recovery: share, server: share }, m);
    }
  });

  it('signing verdicts: allowed and denied, each with exactly its members', () => {
    const v = METHODS['wallet.sign'].result as Schema;
    const spend = {
      wallet_id: '0b5f8a0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b',
      day: '2026-01-01',
      spent_wei: '0',
      mac: HEX32,
    };
    const allowed = {
      verdict: 'allowed',
      request_digest: HEX32,
      address: 'a'.repeat(64),
      result: { signature: 's'.repeat(200) },
      spend,
    };
    ok(SpendCounterSchema, spend);
    ok(v, allowed);
    no(v, { ...allowed, address: 'a'.repeat(65) });
    no(v, { ...allowed, result: { signature: 's'.repeat(201) } });
    no(v, { ...allowed, verdict: 'denied' });
    const tx = { signed_transaction: 'x'.repeat(2 + 4 * 128 * 1024), hash: '0x' + 'a'.repeat(64) };
    ok(v, { ...allowed, result: tx });
    no(v, { ...allowed, result: { ...tx, signed_transaction: 'x'.repeat(3 + 4 * 128 * 1024) } });
    const hash = ((v as Any).options[0].shape.result.options[1] as Any).shape.hash as Schema;
    token(hash, { prefix: '0x', min: 64, max: 64, cls: HEX_LOWER });
    no(hash, '1x' + 'a'.repeat(64));
    const denied = {
      verdict: 'denied',
      request_digest: HEX32,
      address: 'a'.repeat(64),
      rule: { index: 0, type: 't'.repeat(64) },
    };
    ok(v, denied);
    no(v, { ...denied, address: 'a'.repeat(65) });
    no(v, { ...denied, rule: { index: -1, type: 't' } });
    no(v, { ...denied, rule: { index: 0, type: 't'.repeat(65) } });
    no(v, { ...denied, verdict: 'allowed' });
    no(v, { ...denied, verdict: '' });
  });
});
