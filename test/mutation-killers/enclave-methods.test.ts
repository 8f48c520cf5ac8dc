/**
 * src/enclave/methods for the mutation run (docs/mutation-testing.md): rules of the enclave's
 * methods that only the service tests (which spawn the built bundle, never a mutant) reached, or
 * that no test pinned. Through the real dispatcher on in-process enclaves, as the host's RPC
 * client calls them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { nodePrimitives } from '../../src/enclave/crypto/node-primitives.js';
import { readyKeyring } from '../../src/enclave/state.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import { envelopeDigest } from '../../src/protocol/envelope/registry.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from './rpc.js';

async function readyEnclave() {
  const t = testEnclave();
  const g = await ok(t, 'keyring.generate', { policy: 'signer' });
  return { t, pub: g.public.credential_keys[0]!.public_key, keyId: g.public.current_key_id };
}

const creds = { exchange: 'binance' as const, apiKey: 'k', apiSecret: 's' };
const metadata = { exchange: 'binance', label: 'main', ttl: 600 };

/** Runs `fn`, keeping every plaintext the AEAD hands out meanwhile (envelope v1's open). */
async function plaintextsOf(fn: () => Promise<unknown>): Promise<Uint8Array[]> {
  const seen: Uint8Array[] = [];
  const open = nodePrimitives.aesGcmOpen;
  const prims = nodePrimitives as { aesGcmOpen: typeof open };
  prims.aesGcmOpen = (...args) => {
    const out = open(...args);
    seen.push(out);
    return out;
  };
  try {
    await fn();
  } finally {
    prims.aesGcmOpen = open;
  }
  return seen;
}

/** The stored-credential fields verify_stored checks, bound by this enclave's keyring. */
function boundCredential(t: TestEnclave, envelope: unknown, keyId: string, exchange: string) {
  const fields = {
    session_id: '00000000-0000-4000-8000-000000000001',
    key_id: keyId,
    envelope_digest: envelopeDigest(envelope as never, keyId),
    exchange,
    label: 'main',
    expires_at: t.clock.now + 600,
  };
  const { envelope_digest: _digest, ...stored } = fields;
  return { ...stored, envelope, binding: bytesToBase64(readyKeyring(t.state).bind(fields)) };
}

describe('opening an envelope', () => {
  it('wipes the plaintext once it is parsed, whether the request is accepted or refused', async () => {
    const { t, pub, keyId } = await readyEnclave();
    const envelope = await CryptoHelper.encryptCredentials(creds, pub, {
      issuedAt: t.clock.now,
      keyId,
    });
    const accepted = await plaintextsOf(() => ok(t, 'credential.submit', { envelope, metadata }));
    const mismatch = await CryptoHelper.encryptCredentials(creds, pub, {
      issuedAt: t.clock.now,
      keyId,
    });
    const refused = await plaintextsOf(async () =>
      assert.equal(
        await code(t, 'credential.submit', {
          envelope: mismatch,
          metadata: { ...metadata, exchange: 'bybit' },
        }),
        'ENVELOPE_EXCHANGE_MISMATCH',
      ),
    );
    const stored = boundCredential(t, envelope, keyId, 'binance');
    const verified = await plaintextsOf(() => ok(t, 'credential.verify_stored', stored));
    for (const [name, seen] of Object.entries({ accepted, refused, verified })) {
      assert.equal(seen.length, 1, name);
      assert.ok(seen[0]!.length > 0, name);
      assert.ok(
        seen[0]!.every((b) => b === 0),
        `${name}: the plaintext is left in memory`,
      );
    }
  });
});

describe('credential.verify_stored', () => {
  it('opens the stored envelope: its exchange must be the bound one, and it must open', async () => {
    const { t, pub, keyId } = await readyEnclave();
    const envelope = await CryptoHelper.encryptCredentials(creds, pub, {
      issuedAt: t.clock.now,
      keyId,
    });
    // Bindings made here directly: the exchange and the envelope are checked again on
    // opening, not only through the binding (defence in depth).
    assert.equal(
      await code(t, 'credential.verify_stored', boundCredential(t, envelope, keyId, 'bybit')),
      'ENVELOPE_EXCHANGE_MISMATCH',
    );
    const tampered = { ...envelope, tag: Buffer.alloc(16, 1).toString('base64') };
    assert.equal(
      await code(t, 'credential.verify_stored', boundCredential(t, tampered, keyId, 'binance')),
      'ENVELOPE_INVALID',
    );
    assert.deepEqual(
      await ok(t, 'credential.verify_stored', boundCredential(t, envelope, keyId, 'binance')),
      { envelope_digest: envelopeDigest(envelope, keyId) },
    );
  });
});

describe('test.block_event_loop', () => {
  it('does not exist without ENCLAVE_TEST_HOOKS=1 on the simulated platform', async () => {
    const off = testEnclave();
    assert.equal(await code(off, 'test.block_event_loop', { ms: 1 }), 'METHOD_UNKNOWN');
    const on = testEnclave({ env: { ENCLAVE_TEST_HOOKS: '1' } });
    const ms = 30;
    const start = Date.now();
    assert.deepEqual(await ok(on, 'test.block_event_loop', { ms }), {});
    // The loop spins until the deadline has passed (a lower bound, never an upper one).
    assert.ok(Date.now() - start >= ms);
    // The config refuses test hooks on another platform; were one to get through, still none.
    (on.state as { config: unknown }).config = { ...on.state.config, TEE_PLATFORM: 'nitro' };
    assert.equal(await code(on, 'test.block_event_loop', { ms: 1 }), 'METHOD_UNKNOWN');
  });
});

describe('auth.init on a loaded keyring', () => {
  it('moves to a newer stored keyring (another member rotated) and ignores an older one', async () => {
    const a = testEnclave();
    const g = await ok(a, 'keyring.generate', { policy: 'signer' });
    const first = await ok(a, 'auth.init', { sealed: null });
    // A second enclave on the same platform folder loads the same auth keyring.
    const b = testEnclave({ dir: a.dir });
    await ok(b, 'keyring.unseal', { sealed: g.sealed });
    assert.equal((await ok(b, 'auth.init', { sealed: first.sealed! })).generation, 1);
    // A rotates; B is handed the newer blob by its host.
    const next = await ok(a, 'auth.prepare_rotation', {});
    await ok(a, 'auth.activate', { generation: next.generation, sealed: next.sealed });
    const moved = await ok(b, 'auth.init', { sealed: next.sealed });
    assert.equal(moved.generation, next.generation);
    assert.equal(moved.sealed, null);
    assert.ok(moved.keys.some((k) => k.kid === next.kid));
    // The older blob again changes nothing.
    assert.equal((await ok(b, 'auth.init', { sealed: first.sealed! })).generation, next.generation);
  });
});

describe('log.append with a head', () => {
  const entry = () => ({
    v: 1 as const,
    type: 'credential.expired' as const,
    subject: sessionLogSubject(crypto.randomUUID()),
    time: 1_800_000_000,
  });

  it('advances to another writer’s head first, and refuses a head that is not one', async () => {
    const a = testEnclave();
    const g = await ok(a, 'keyring.generate', { policy: 'signer' });
    const b = testEnclave({ dir: a.dir });
    await ok(b, 'keyring.unseal', { sealed: g.sealed });
    await ok(a, 'log.init', { checkpoint: null, frontier: [] });
    await ok(b, 'log.init', { checkpoint: null, frontier: [] });
    const byA = await ok(a, 'log.append', { entries: [entry()] });
    // B is handed A's head (size 1: its frontier is the one leaf; B's empty tree needs no proof).
    const head = { checkpoint: byA.checkpoint, frontier: byA.leaf_hashes, proof: [] };
    const byB = await ok(b, 'log.append', { entries: [entry()], head });
    assert.equal(byB.first_index, 1);
    assert.equal(byB.size, 2);
    // A head that is no checkpoint of this log: refused, and nothing is appended.
    const forged = { ...head, checkpoint: byA.checkpoint.replace(/\n1\n/, '\n7\n') };
    assert.equal(
      await code(a, 'log.append', { entries: [entry()], head: forged }),
      'LOG_STATE_INVALID',
    );
    assert.equal((await ok(a, 'log.append', { entries: [entry()] })).first_index, 1);
  });
});
