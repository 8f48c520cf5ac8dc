/**
 * Property: malformed, hostile or cryptographically bad input is refused with the exact status
 * and error code of src/host/errors.ts, in the `{ error: { code, message[, details] } }` shape
 * with the fixed message; no answer carries a stack trace, a source path, or any value the
 * client sent (ciphertext, keys, labels, raw bodies) or any plaintext secret; nothing malformed
 * reaches the database; and the service keeps serving valid submissions afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InjectOptions } from 'fastify';
import { CryptoHelper, type ExchangeCredentials } from '../../src/client/index.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { sealEnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import type { HttpErrorCode } from '../../src/host/errors.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import {
  STACK_TRACE_RE,
  assertError,
  credentialNeedles,
  enclaveKey,
  findNeedles,
  type Needle,
} from '../helpers/security-util.js';

const B64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64');
const rnd = (n: number) => B64(noblePrimitives.randomBytes(n));
const now = () => Math.floor(Date.now() / 1000);

/** X25519 points of small order (RFC 7748 §7 / libsodium's list): each yields an all-zero secret. */
const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => B64(Buffer.from(h, 'hex')));

/** Same bytes' worth of base64, but with non-zero trailing bits: atob accepts it, we must not. */
function nonCanonical(b64: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const i = b64.indexOf('=') - 1;
  const c = alphabet.indexOf(b64[i]!);
  return b64.slice(0, i) + alphabet[c ^ 1] + b64.slice(i + 1);
}

function flipByte(b64: string, index = 0): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[index] = bytes[index]! ^ 0x01;
  return bytes.toString('base64');
}

interface Case {
  name: string;
  build(): Promise<InjectOptions>;
  status: number;
  code: HttpErrorCode;
  /** Set when the current behaviour is a known src/ bug (see the report); the case stays listed. */
  todo?: string;
}

for (const engine of engines()) {
  describe(`malformed input on ${engine}`, () => {
    let ts: TestService;
    let pub: string;
    let keyId: string;
    let bootTime: number;
    /** Every plaintext used below: none may ever come back in a response or a log line. */
    const needles: Needle[] = [];
    let accepted = 0;

    const creds = (exchange: ExchangeCredentials['exchange'] = 'binance'): ExchangeCredentials => {
      const c = {
        ...uniqueCredentials('mal'),
        exchange,
        passphrase: `PASSPHRASE-PLAINTEXT-${Math.random()}`,
      };
      needles.push(...credentialNeedles(c, 'case'));
      return c;
    };
    const meta = (over: Record<string, unknown> = {}) => ({
      exchange: 'binance',
      label: 'malformed',
      ttl: 3600,
      ...over,
    });
    const v1 = async (
      opts: { issuedAt?: number; keyId?: string; exchange?: ExchangeCredentials['exchange'] } = {},
    ) =>
      CryptoHelper.encryptCredentials(creds(opts.exchange), pub, {
        ...(opts.issuedAt !== undefined ? { issuedAt: opts.issuedAt } : {}),
        ...(opts.keyId ? { keyId: opts.keyId } : {}),
      });
    const submitReq = (payload: unknown): InjectOptions => ({
      method: 'POST',
      url: '/enclave/submit_key',
      payload: payload as InjectOptions['payload'],
    });
    const rawSubmit = (body: string | Buffer, contentType = 'application/json'): InjectOptions => ({
      method: 'POST',
      url: '/enclave/submit_key',
      headers: { 'content-type': contentType },
      payload: body,
    });
    /** A v1 envelope with `mutate` applied to it, and valid metadata. */
    const mutatedV1 = async (
      mutate: (e: Record<string, unknown>) => void,
      metadata: unknown = meta(),
    ) => {
      const e = { ...(await v1()) } as Record<string, unknown>;
      mutate(e);
      return submitReq({ ...e, metadata });
    };
    const sealRaw = (plaintext: string) => {
      const e = sealEnvelopeV1(noblePrimitives, Buffer.from(pub, 'base64'), Buffer.from(plaintext));
      return submitReq({ ...e, metadata: meta() });
    };

    before(async () => {
      // Restarted once, so the enclave runs on a keyring it loaded: the "before the enclave
      // booted" rule spares keys a process drew itself (a first start).
      ts = await (await startTestService(engine)).restart();
      ({ pub, keyId } = await enclaveKey(ts));
      bootTime = (await ts.service.enclave.call('enclave.status', {})).boot_time;
    });
    after(async () => ts?.stop());

    const VF = { status: 400, code: 'VALIDATION_FAILED' as const };
    const INVALID = { status: 400, code: 'ENVELOPE_INVALID' as const };
    const STALE = { status: 400, code: 'ENVELOPE_STALE' as const };
    const NOT_FOUND = { status: 404, code: 'NOT_FOUND' as const };

    const cases: Case[] = [
      // --- envelope shape
      {
        name: 'ephemeral_pub of 31 bytes',
        build: () => mutatedV1((e) => (e.ephemeral_pub = rnd(31))),
        ...VF,
      },
      {
        name: 'ephemeral_pub of 33 bytes',
        build: () => mutatedV1((e) => (e.ephemeral_pub = rnd(33))),
        ...VF,
      },
      { name: 'nonce of 11 bytes', build: () => mutatedV1((e) => (e.nonce = rnd(11))), ...VF },
      { name: 'nonce of 13 bytes', build: () => mutatedV1((e) => (e.nonce = rnd(13))), ...VF },
      { name: 'tag of 15 bytes', build: () => mutatedV1((e) => (e.tag = rnd(15))), ...VF },
      { name: 'tag of 17 bytes', build: () => mutatedV1((e) => (e.tag = rnd(17))), ...VF },
      {
        name: 'non-canonical base64 (non-zero trailing bits) in ephemeral_pub',
        build: () => mutatedV1((e) => (e.ephemeral_pub = nonCanonical(e.ephemeral_pub as string))),
        ...VF,
      },
      {
        name: 'non-canonical base64 (non-zero trailing bits) in tag',
        build: () => mutatedV1((e) => (e.tag = nonCanonical(e.tag as string))),
        ...VF,
      },
      {
        name: 'base64 without padding',
        build: () =>
          mutatedV1((e) => (e.ephemeral_pub = (e.ephemeral_pub as string).replace(/=+$/, ''))),
        ...VF,
      },
      {
        name: 'base64 with embedded whitespace',
        build: () =>
          mutatedV1(
            (e) =>
              (e.nonce = `${(e.nonce as string).slice(0, 8)}\n${(e.nonce as string).slice(8)}`),
          ),
        ...VF,
      },
      {
        name: 'base64url alphabet instead of base64',
        build: () =>
          mutatedV1(
            (e) =>
              (e.ephemeral_pub = Buffer.from(e.ephemeral_pub as string, 'base64').toString(
                'base64url',
              )),
          ),
        ...VF,
      },
      { name: 'empty ciphertext', build: () => mutatedV1((e) => (e.ciphertext = '')), ...VF },
      {
        name: 'ciphertext that is not base64',
        build: () => mutatedV1((e) => (e.ciphertext = '!!!!not-base64!!!!')),
        ...VF,
      },
      {
        name: 'ciphertext over 4096 bytes',
        build: () => mutatedV1((e) => (e.ciphertext = rnd(4097))),
        ...VF,
      },
      {
        name: 'ciphertext as a number',
        build: () => mutatedV1((e) => (e.ciphertext = 12345678)),
        ...VF,
      },
      {
        name: 'missing ephemeral_pub',
        build: () => mutatedV1((e) => delete e.ephemeral_pub),
        ...VF,
      },
      { name: 'missing tag', build: () => mutatedV1((e) => delete e.tag), ...VF },
      {
        name: 'unknown alg',
        build: () => mutatedV1((e) => (e.alg = 'X25519-HKDF-SHA256-A128GCM')),
        ...VF,
      },
      {
        name: 'v1 and HPKE fields mixed',
        build: () => mutatedV1((e) => (e.enc = e.ephemeral_pub)),
        ...VF,
      },
      {
        name: 'extra unknown field in the envelope',
        build: () => mutatedV1((e) => (e.is_admin = true)),
        ...VF,
      },
      {
        name: 'key_id malformed (42 chars)',
        build: () => mutatedV1((e) => (e.key_id = keyId.slice(0, 42))),
        ...VF,
      },
      {
        name: 'key_id malformed (bad characters)',
        build: () => mutatedV1((e) => (e.key_id = `${keyId.slice(0, 42)}=`)),
        ...VF,
      },
      {
        name: 'unknown but well-formed key_id',
        build: () =>
          mutatedV1(
            (e) => (e.key_id = Buffer.from(noblePrimitives.randomBytes(32)).toString('base64url')),
          ),
        status: 400,
        code: 'ENVELOPE_UNKNOWN_KEY',
      },
      {
        name: 'HPKE with an unknown alg',
        build: async () => {
          const h = await CryptoHelper.encryptCredentialsHpke(creds(), pub);
          return submitReq({
            ...h,
            alg: 'HPKE-Base-X25519-SHA256-ChaCha20Poly1305',
            metadata: meta(),
          });
        },
        ...VF,
      },
      // --- metadata
      { name: 'missing metadata', build: async () => submitReq({ ...(await v1()) }), ...VF },
      {
        name: 'metadata null',
        build: async () => submitReq({ ...(await v1()), metadata: null }),
        ...VF,
      },
      { name: 'ttl 299', build: () => mutatedV1(() => undefined, meta({ ttl: 299 })), ...VF },
      {
        name: 'ttl MAX_TTL + 1',
        build: () => mutatedV1(() => undefined, meta({ ttl: 604_801 })),
        ...VF,
      },
      {
        name: 'ttl not an integer',
        build: () => mutatedV1(() => undefined, meta({ ttl: 3600.5 })),
        ...VF,
      },
      {
        name: 'ttl as a string',
        build: () => mutatedV1(() => undefined, meta({ ttl: '3600' })),
        ...VF,
      },
      { name: 'ttl negative', build: () => mutatedV1(() => undefined, meta({ ttl: -1 })), ...VF },
      {
        name: 'missing ttl',
        build: () => mutatedV1(() => undefined, { exchange: 'binance', label: 'x' }),
        ...VF,
      },
      {
        name: 'unknown exchange',
        build: () => mutatedV1(() => undefined, meta({ exchange: 'kraken' })),
        ...VF,
      },
      {
        name: 'exchange with different case',
        build: () => mutatedV1(() => undefined, meta({ exchange: 'Binance' })),
        ...VF,
      },
      {
        name: 'label with markup characters',
        build: () => mutatedV1(() => undefined, meta({ label: 'a<script>alert(1)</script>' })),
        ...VF,
      },
      {
        name: 'label of 65 characters',
        build: () => mutatedV1(() => undefined, meta({ label: `a${'b'.repeat(64)}` })),
        ...VF,
      },
      {
        name: 'label with SQL',
        build: () => mutatedV1(() => undefined, meta({ label: "x'); DROP TABLE sessions; --" })),
        ...VF,
      },
      { name: 'empty label', build: () => mutatedV1(() => undefined, meta({ label: '' })), ...VF },
      {
        name: 'label starting with a space',
        build: () => mutatedV1(() => undefined, meta({ label: ' main' })),
        ...VF,
      },
      {
        name: 'label with a newline (log injection)',
        build: () => mutatedV1(() => undefined, meta({ label: 'main\n{"level":60}' })),
        ...VF,
      },
      {
        name: 'label with a NUL byte',
        build: () => mutatedV1(() => undefined, meta({ label: 'ma\u0000in' })),
        ...VF,
      },
      {
        name: 'label with non-ASCII letters',
        build: () => mutatedV1(() => undefined, meta({ label: 'café' })),
        ...VF,
      },
      {
        name: 'extra unknown field in metadata',
        build: () => mutatedV1(() => undefined, meta({ user_id: 'someone-else' })),
        ...VF,
      },
      // --- body and transport
      {
        name: 'body that is not JSON',
        build: async () => rawSubmit('this is {not json'),
        status: 400,
        code: 'BODY_INVALID_JSON',
      },
      {
        name: 'truncated JSON body',
        build: async () =>
          rawSubmit(JSON.stringify({ ...(await v1()), metadata: meta() }).slice(0, -3)),
        status: 400,
        code: 'BODY_INVALID_JSON',
      },
      {
        name: 'empty body with a JSON content-type',
        build: async () => rawSubmit(''),
        status: 400,
        code: 'BODY_INVALID_JSON',
      },
      {
        name: 'JSON with __proto__ (prototype pollution)',
        build: async () => rawSubmit('{"__proto__":{"polluted":true}}'),
        status: 400,
        code: 'BODY_INVALID_JSON',
      },
      { name: 'JSON array body', build: async () => rawSubmit('[]'), ...VF },
      { name: 'JSON string body', build: async () => rawSubmit('"hello world"'), ...VF },
      {
        name: 'wrong content-type (application/xml)',
        build: async () => rawSubmit('<envelope/>', 'application/xml'),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'wrong content-type (application/x-www-form-urlencoded)',
        build: async () => rawSubmit('a=b', 'application/x-www-form-urlencoded'),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'wrong content-type (text/plain, a CORS "simple request" type)',
        build: async () =>
          rawSubmit(JSON.stringify({ ...(await v1()), metadata: meta() }), 'text/plain'),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'body over 1 MB',
        build: async () =>
          rawSubmit(
            JSON.stringify({ ...(await v1()), metadata: meta(), pad: 'A'.repeat(1024 * 1024) }),
          ),
        status: 413,
        code: 'BODY_TOO_LARGE',
      },
      // --- cryptographically bad envelopes
      {
        name: 'tampered ciphertext',
        build: () => mutatedV1((e) => (e.ciphertext = flipByte(e.ciphertext as string, 5))),
        ...INVALID,
      },
      {
        name: 'tampered tag',
        build: () => mutatedV1((e) => (e.tag = flipByte(e.tag as string))),
        ...INVALID,
      },
      {
        name: 'tampered nonce',
        build: () => mutatedV1((e) => (e.nonce = flipByte(e.nonce as string))),
        ...INVALID,
      },
      {
        name: 'ephemeral_pub replaced by another valid public key',
        build: () =>
          mutatedV1(
            (e) =>
              (e.ephemeral_pub = B64(
                noblePrimitives.x25519PublicKey(noblePrimitives.randomBytes(32)),
              )),
          ),
        ...INVALID,
      },
      {
        name: 'tampered HPKE ciphertext',
        build: async () => {
          const h = await CryptoHelper.encryptCredentialsHpke(creds(), pub);
          return submitReq({ ...h, ciphertext: flipByte(h.ciphertext, 3), metadata: meta() });
        },
        ...INVALID,
      },
      {
        name: 'envelope encrypted to a random key (no key_id)',
        build: async () => {
          const other = B64(noblePrimitives.x25519PublicKey(noblePrimitives.randomBytes(32)));
          return submitReq({
            ...(await CryptoHelper.encryptCredentials(creds(), other)),
            metadata: meta(),
          });
        },
        ...INVALID,
      },
      {
        name: "envelope encrypted to a random key but naming the enclave's key_id",
        build: async () => {
          const other = B64(noblePrimitives.x25519PublicKey(noblePrimitives.randomBytes(32)));
          return submitReq({
            ...(await CryptoHelper.encryptCredentials(creds(), other, { keyId })),
            metadata: meta(),
          });
        },
        ...INVALID,
      },
      ...LOW_ORDER_POINTS.map((point, i): Case => ({
        name: `ephemeral_pub is low-order point #${i}`,
        build: () => mutatedV1((e) => (e.ephemeral_pub = point)),
        ...INVALID,
      })),
      {
        name: 'HPKE enc is the all-zero point',
        build: async () => {
          const h = await CryptoHelper.encryptCredentialsHpke(creds(), pub);
          return submitReq({ ...h, enc: LOW_ORDER_POINTS[0], metadata: meta() });
        },
        ...INVALID,
      },
      {
        name: 'well-encrypted plaintext that is not JSON',
        build: async () => sealRaw('not json at all'),
        ...INVALID,
      },
      {
        name: 'well-encrypted credential JSON with an unknown field',
        build: async () =>
          sealRaw(
            JSON.stringify({
              exchange: 'binance',
              apiKey: 'k',
              apiSecret: 's',
              issued_at: now(),
              admin: true,
            }),
          ),
        ...INVALID,
      },
      {
        name: 'well-encrypted credential JSON without apiSecret',
        build: async () =>
          sealRaw(JSON.stringify({ exchange: 'binance', apiKey: 'k', issued_at: now() })),
        ...INVALID,
      },
      // --- freshness and consistency
      {
        name: 'stale issued_at (now - 1000 s)',
        build: async () =>
          submitReq({ ...(await v1({ issuedAt: now() - 1000 })), metadata: meta() }),
        ...STALE,
      },
      {
        name: 'future issued_at (now + 120 s)',
        build: async () =>
          submitReq({ ...(await v1({ issuedAt: now() + 120 })), metadata: meta() }),
        ...STALE,
      },
      {
        name: 'issued_at before the enclave booted (within the age window)',
        build: async () =>
          submitReq({ ...(await v1({ issuedAt: bootTime - 1 })), metadata: meta() }),
        status: 425,
        code: 'ENVELOPE_BEFORE_START',
      },
      {
        name: 'exchange in the envelope differs from the metadata',
        build: async () =>
          submitReq({
            ...(await v1({ exchange: 'okx' })),
            metadata: meta({ exchange: 'binance' }),
          }),
        status: 400,
        code: 'ENVELOPE_EXCHANGE_MISMATCH',
      },
      // --- other routes
      {
        name: 'quote nonce too short',
        build: async () => ({ method: 'GET', url: '/attestation/quote?nonce=abc' }),
        ...VF,
      },
      {
        name: 'quote nonce too long',
        build: async () => ({ method: 'GET', url: `/attestation/quote?nonce=${'a'.repeat(129)}` }),
        ...VF,
      },
      {
        name: 'quote nonce with bad characters',
        build: async () => ({
          method: 'GET',
          url: `/attestation/quote?nonce=${encodeURIComponent("abc'; DROP--abc")}`,
        }),
        ...VF,
      },
      {
        name: 'quote nonce given twice',
        build: async () => ({
          method: 'GET',
          url: '/attestation/quote?nonce=aaaaaaaaaaaa&nonce=bbbbbbbbbbbb',
        }),
        ...VF,
      },
      {
        name: 'quote with an extra query parameter',
        build: async () => ({
          method: 'GET',
          url: '/attestation/quote?nonce=aaaaaaaaaaaa&debug=1',
        }),
        ...VF,
      },
      {
        name: 'revoke with a session_id that is not a uuid',
        build: async () => ({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: 'not-a-uuid' },
        }),
        ...VF,
      },
      {
        name: 'revoke with SQL in session_id',
        build: async () => ({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: "' OR 1=1 --" },
        }),
        ...VF,
      },
      {
        name: 'revoke with session_id as a number',
        build: async () => ({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: 42 },
        }),
        ...VF,
      },
      {
        name: 'revoke without session_id',
        build: async () => ({ method: 'POST', url: '/enclave/revoke', payload: {} }),
        ...VF,
      },
      {
        name: 'revoke with an extra field',
        build: async () => ({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: crypto.randomUUID(), all: true },
        }),
        ...VF,
      },
      {
        name: 'revoke with a body that is not JSON',
        build: async () => ({
          method: 'POST',
          url: '/enclave/revoke',
          headers: { 'content-type': 'application/json' },
          payload: '{session_id:',
        }),
        status: 400,
        code: 'BODY_INVALID_JSON',
      },
      {
        name: 'status with a session_id that is not a uuid',
        build: async () => ({ method: 'GET', url: '/enclave/sessions/not-a-uuid' }),
        ...VF,
      },
      {
        name: 'status with SQL in session_id',
        build: async () => ({
          method: 'GET',
          url: `/enclave/sessions/${encodeURIComponent("1' OR '1'='1")}`,
        }),
        ...VF,
      },
      {
        name: 'status with a session_id longer than the router allows',
        build: async () => ({ method: 'GET', url: `/enclave/sessions/${'a'.repeat(150)}` }),
        ...VF,
      },
      {
        name: 'status with a malformed percent-encoding',
        build: async () => ({ method: 'GET', url: '/enclave/sessions/%E0%A4%A' }),
        ...VF,
      },
      {
        name: 'unknown route',
        build: async () => ({ method: 'GET', url: '/enclave/keys/export' }),
        ...NOT_FOUND,
      },
      {
        name: 'unknown route with a traversal-looking path',
        build: async () => ({ method: 'GET', url: '/../../etc/passwd' }),
        ...NOT_FOUND,
      },
      {
        name: 'known path, wrong method',
        build: async () => ({ method: 'GET', url: '/enclave/submit_key' }),
        ...NOT_FOUND,
      },
    ];

    /** Values the client sent (long enough to be meaningful) that must not come back. */
    function sentValues(req: InjectOptions): string[] {
      const out: string[] = [];
      const walk = (v: unknown): void => {
        if (typeof v === 'string') {
          if (v.length >= 8) out.push(v.slice(0, 64));
        } else if (v && typeof v === 'object') {
          for (const x of Object.values(v)) walk(x);
        }
      };
      const p = req.payload;
      if (typeof p === 'string') {
        if (p.length >= 8) out.push(p.slice(0, 64));
        try {
          walk(JSON.parse(p));
        } catch {
          // not JSON: the raw prefix above is enough
        }
      } else {
        walk(p);
      }
      const path =
        String(req.url ?? '')
          .split('?')[0]!
          .split('/')
          .pop() ?? '';
      if (path.length >= 8) out.push(path.slice(0, 64));
      return out;
    }

    for (const c of cases) {
      it(`${c.name} → ${c.status} ${c.code}`, c.todo ? { todo: c.todo } : {}, async () => {
        const req = await c.build();
        const res = await ts.service.app.inject(req);
        assert.doesNotMatch(res.body, STACK_TRACE_RE, 'stack trace or source path in the response');
        assert.deepEqual(findNeedles(res.body, needles), [], 'plaintext secret in the response');
        for (const v of sentValues(req))
          assert.ok(!res.body.includes(v), `response echoes a submitted value (${c.name})`);
        assertError(res, c.status, c.code, c.name);
      });
    }

    it('refuses a replayed envelope (same body twice, or re-labelled, or after revoke) with 409 ENVELOPE_REPLAYED', async () => {
      for (const hpke of [false, true]) {
        const env = hpke ? await CryptoHelper.encryptCredentialsHpke(creds(), pub) : await v1();
        const first = await ts.service.app.inject(submitReq({ ...env, metadata: meta() }));
        assert.equal(first.statusCode, 200, first.body);
        accepted++;
        const again = await ts.service.app.inject(submitReq({ ...env, metadata: meta() }));
        assertError(again, 409, 'ENVELOPE_REPLAYED', 'same body');
        assert.ok(!again.body.includes(env.ciphertext));
        const relabelled = await ts.service.app.inject(
          submitReq({ ...env, key_id: keyId, metadata: meta({ label: 'other', ttl: 600 }) }),
        );
        assertError(relabelled, 409, 'ENVELOPE_REPLAYED', 'relabelled, key_id added');
        const rev = await ts.service.app.inject({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: first.json().session_id },
        });
        assert.equal(rev.statusCode, 200);
        const afterRevoke = await ts.service.app.inject(submitReq({ ...env, metadata: meta() }));
        assertError(afterRevoke, 409, 'ENVELOPE_REPLAYED', 'after revoke');
      }
    });

    it('keeps serving: a valid submission still succeeds, nothing malformed was stored, and no secret was logged', async () => {
      for (const hpke of [false, true]) {
        const env = hpke
          ? await CryptoHelper.encryptCredentialsHpke(creds(), pub, { keyId })
          : await v1({ keyId });
        const res = await ts.service.app.inject(
          submitReq({ ...env, metadata: meta({ label: 'after the storm' }) }),
        );
        assert.equal(res.statusCode, 200, res.body);
        accepted++;
        const st = await ts.service.app.inject({
          method: 'GET',
          url: `/enclave/sessions/${res.json().session_id}`,
        });
        assert.equal(st.json().credential, 'ok');
      }
      const ready = await ts.service.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200, ready.body);

      const { rows } = await ts.service.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM sessions',
      );
      assert.equal(Number(rows[0]!.n), accepted, 'a malformed request created a session');
      const { rows: labels } = await ts.service.db.query<{ label: string }>(
        'SELECT DISTINCT label FROM sessions ORDER BY label',
      );
      assert.deepEqual(
        labels.map((l) => l.label),
        ['after the storm', 'malformed'],
      );
      assert.ok(needles.length > 0);
      for (const line of ts.logs)
        assert.deepEqual(findNeedles(line, needles), [], 'plaintext secret in a log line');
    });
  });
}
