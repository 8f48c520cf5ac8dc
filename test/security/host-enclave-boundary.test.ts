/**
 * Host–enclave boundary attack review (SECURITY.md): what a compromised host can send the enclave
 * over its socket, and what comes back. Every method of the table, in every phase, with params
 * that carry a marker the host chose, prototype keys, and undecodable envelopes whose plaintext
 * (or a parse error of it) would quote a secret: the answer is a fixed code and message, never a
 * byte of the input or the plaintext; nothing reaches Object.prototype; the replay cache refuses
 * rather than forgets when full; configuration errors name variables, never values.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dispatchFrame } from '../../src/enclave/dispatcher.js';
import { parseEnclaveConfig } from '../../src/enclave/config.js';
import { ReplayCache } from '../../src/enclave/replay-cache.js';
import { serveEnclave } from '../../src/enclave/server.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { base64ToBytes, utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import { RPC_ERROR_MESSAGES } from '../../src/protocol/rpc/errors.js';
import { METHODS } from '../../src/protocol/rpc/methods.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';

const MARKER = 'S3CRET-MARKER-8d1f';

type Answer = {
  results?: {
    id: number;
    ok: boolean;
    result?: unknown;
    error?: { code: string; message: string };
  }[];
  error?: { code: string; message: string };
};

async function call(t: TestEnclave, calls: { id: number; method: string; params: unknown }[]) {
  return (await dispatchFrame(t.state, { calls })) as Answer;
}

async function ready(): Promise<{ t: TestEnclave; pub: Uint8Array }> {
  const t = testEnclave();
  const r = await call(t, [{ id: 1, method: 'keyring.generate', params: { policy: 'signer' } }]);
  const g = r.results![0]!.result as { public: { credential_keys: { public_key: string }[] } };
  return { t, pub: base64ToBytes(g.public.credential_keys[0]!.public_key) };
}

/** Params a hostile host might send a method: each carries the marker somewhere. */
const hostile: unknown[] = [
  MARKER,
  { [MARKER]: MARKER },
  { __proto__: { polluted: MARKER } },
  JSON.parse(`{"__proto__":{"polluted":"${MARKER}"},"constructor":{"prototype":{"polluted":1}}}`),
  { envelope: { ciphertext: MARKER }, metadata: { label: MARKER } },
  [MARKER, { nonce: MARKER }],
];

function assertFixed(answer: Answer) {
  const text = JSON.stringify(answer);
  assert.ok(!text.includes(MARKER), `the answer quotes the input: ${text.slice(0, 300)}`);
  for (const r of answer.results ?? []) {
    if (r.ok) continue;
    const code = r.error!.code as keyof typeof RPC_ERROR_MESSAGES;
    assert.equal(r.error!.message, RPC_ERROR_MESSAGES[code]);
  }
}

describe('host–enclave boundary: what crosses back to a hostile host', () => {
  it('every method, in both phases, answers hostile params with a fixed code only', async () => {
    for (const phase of ['awaiting_keyring', 'ready'] as const) {
      const t = phase === 'ready' ? (await ready()).t : testEnclave();
      let id = 100;
      for (const method of Object.keys(METHODS)) {
        const calls = hostile.map((params) => ({ id: id++, method, params }));
        const answer = await call(t, calls);
        assertFixed(answer);
        assert.equal(answer.results!.length, calls.length);
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }
  });

  it('prototype and unknown names are unknown methods, not lookups on an object', async () => {
    const t = testEnclave();
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', MARKER];
    const answer = await call(
      t,
      names.map((method, i) => ({ id: i, method, params: {} })),
    );
    assertFixed(answer);
    assert.deepEqual(
      answer.results!.map((r) => r.error?.code),
      names.map(() => 'METHOD_UNKNOWN'),
    );
  });

  it('an envelope that opens to a non-conforming plaintext is ENVELOPE_INVALID, no text of it', async () => {
    const { t, pub } = await ready();
    const now = t.clock.now;
    const plaintexts = [
      // Not JSON: JSON.parse's message quotes the text around the error.
      `{"exchange":"binance","apiKey":"${MARKER}","apiSecret":${MARKER}}`,
      // JSON, but zod's messages name the wrong values' paths and types.
      JSON.stringify({ exchange: MARKER, apiKey: MARKER, apiSecret: 's', issued_at: now }),
      JSON.stringify({
        exchange: 'binance',
        apiKey: 'k',
        apiSecret: 's',
        issued_at: now,
        x: MARKER,
      }),
    ];
    let id = 1;
    for (const text of plaintexts) {
      const envelope = sealEnvelopeV1(noblePrimitives, pub, utf8.encode(text));
      const answer = await call(t, [
        {
          id: id++,
          method: 'credential.submit',
          params: { envelope, metadata: { exchange: 'binance', label: 'x', ttl: 600 } },
        },
      ]);
      assertFixed(answer);
      assert.equal(answer.results![0]!.error?.code, 'ENVELOPE_INVALID');
    }
  });

  it('a full replay cache refuses new sender keys and keeps the old ones (no eviction)', () => {
    const cache = new ReplayCache(1000);
    for (let i = 0; i < 1000; i++) assert.equal(cache.add(`k${i}`, 500, 0), true);
    assert.throws(() => cache.add('new', 500, 1), { code: 'INTERNAL' });
    assert.equal(cache.add('k0', 500, 1), false, 'a spent key is still spent');
    assert.equal(cache.size, 1000);
  });

  it('an enclave configuration error names the variable, never the value', () => {
    for (const env of [
      { SMTP_URL: `smtps://u:${MARKER}@h x` },
      { TEE_PLATFORM: MARKER },
      { ENVELOPE_MAX_AGE_SECONDS: MARKER },
      { BINANCE_BASE_URL: MARKER },
      { TEE_PLATFORM: 'nitro', ENCLAVE_TEST_HOOKS: '1', SEALING_KEY_FILE: `/${MARKER}` },
    ]) {
      assert.throws(
        () => parseEnclaveConfig(env),
        (err: Error) => !err.message.includes(MARKER) && /[A-Z_]+: /.test(err.message),
      );
    }
  });

  it("the socket is the owner's only, whatever the umask of whoever started the enclave", async () => {
    const t = testEnclave();
    const path = join(t.dir, 'boundary.sock');
    const umask = process.umask(0);
    try {
      const server = await serveEnclave(t.state, path);
      try {
        assert.equal(statSync(path).mode & 0o777, 0o600);
      } finally {
        server.close();
      }
    } finally {
      process.umask(umask);
    }
  });
});
