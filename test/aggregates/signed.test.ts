/**
 * Signed aggregates (docs/protocol/signed-aggregates.md): sign → verify; any changed payload
 * field, another key, a wrong key id or malformed input fails; the signing input is the context
 * string and the RFC 8785 form of the parsed payload, whatever the member order received; log
 * inclusion under a checkpoint signed by the log key; and the document's worked example.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import {
  verifyAggregatesInclusion,
  verifySignedAggregates,
} from '../../src/client/aggregates/verify.js';
import { signAggregates } from '../../src/enclave/aggregates/sign.js';
import { ed25519PrivateKeyObject, ed25519RawPublic } from '../../src/enclave/crypto/ed25519.js';
import {
  aggregatesDigest,
  aggregatesLogEntry,
  aggregatesSigningInput,
  AGGREGATES_SIGNING_CONTEXT,
  type AggregatesPayload,
  type SignedAggregates,
} from '../../src/protocol/aggregates.js';
import { bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import { jcs } from '../../src/protocol/jcs.js';
import { formatCheckpoint } from '../../src/protocol/log/checkpoint.js';
import { logEntryBytes, sessionLogSubject } from '../../src/protocol/log/entry.js';
import { leafHash, MerkleTree } from '../../src/protocol/log/merkle.js';
import { signNote } from '../../src/protocol/log/note.js';
import { logOrigin } from '../../src/protocol/log/origin.js';
import { buildExample, EXAMPLE_SEED } from './example.js';

const example = buildExample();
const trust = { resultsKey: example.resultsKey };
const clone = (s: SignedAggregates): SignedAggregates => structuredClone(s);

/** Another value of the same type for every member (the schema may or may not accept it). */
function changed(key: string, v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v + 1 : v / 2;
  if (typeof v === 'boolean') return !v;
  if (v === null) return 1;
  if (Array.isArray(v)) return [...v, 'ZZZ/USDT'];
  if (typeof v === 'object')
    return { ...(v as object), ZZZ: key === 'by_quote' ? { trades: 1, volume: 1, pnl: 1 } : 1 };
  if (typeof v === 'string') {
    if (key === 'exchange') return 'bybit';
    if (/Z$/.test(v)) return new Date(Date.parse(v) + 1).toISOString();
    if (/^[0-9a-f]+$/.test(v)) return v.slice(0, -1) + (v.endsWith('0') ? '1' : '0');
    return v.slice(0, -1) + (v.endsWith('A') ? 'B' : 'A');
  }
  throw new Error(`unhandled ${key}`);
}

describe('signed aggregates: signature', () => {
  it('sign → verify', () => {
    const v = verifySignedAggregates(example.signed, trust);
    assert.equal(v.valid, true, JSON.stringify(v.reasons));
    assert.ok(v.valid);
    assert.equal(v.digest, example.digest);
    assert.equal(
      v.digest,
      createHash('sha256').update(aggregatesSigningInput(example.signed.payload)).digest('hex'),
    );
  });

  it('the signing input is the context string followed by JCS of the parsed payload', () => {
    const input = utf8.decode(aggregatesSigningInput(example.signed.payload));
    assert.equal(AGGREGATES_SIGNING_CONTEXT, 'cloister/aggregates/v3\n');
    assert.equal(input, `cloister/aggregates/v3\n${example.payloadJcs}`);
    // JCS: members sorted by UTF-16 code units, no whitespace, at every level.
    assert.ok(example.payloadJcs.startsWith('{"account_commitment":"'));
    assert.ok(
      example.payloadJcs.includes(
        '"api_host":"api.binance.com","audience":"verifier.example.com","by_quote":{"BTC":{"pnl":',
      ),
    );
    assert.ok(!/\s/.test(example.payloadJcs));
    // Any member order received gives the same input and the same (deterministic) signature.
    const reversed = Object.fromEntries(Object.entries(example.signed.payload).reverse());
    assert.equal(utf8.decode(aggregatesSigningInput(reversed)), input);
    const key = ed25519PrivateKeyObject(EXAMPLE_SEED);
    assert.equal(signAggregates(reversed, key).signature, example.signed.signature);
    // A received text with other spacing or order verifies too: the verifier re-serializes.
    const reparsed = JSON.parse(JSON.stringify({ ...example.signed, payload: reversed }, null, 2));
    assert.ok(verifySignedAggregates(reparsed, trust).valid);
  });

  it('any changed payload member fails', () => {
    const payload = example.signed.payload as Record<string, unknown>;
    for (const key of Object.keys(payload)) {
      const s = clone(example.signed) as { payload: Record<string, unknown> };
      s.payload[key] = changed(key, payload[key]);
      const v = verifySignedAggregates(s, trust);
      assert.equal(v.valid, false, `member ${key} changed and still valid`);
    }
    // A nested figure too.
    const s = clone(example.signed);
    s.payload.symbols['BTC/USDT']!.pnl += 0.01;
    const v = verifySignedAggregates(s, trust);
    assert.ok(!v.valid && v.reasons.some((r) => r.startsWith('signature')));
  });

  it('another key fails, and so does a key id that does not name the key', () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    const otherPub = bytesToBase64(ed25519RawPublic(other));
    const v = verifySignedAggregates(example.signed, { resultsKey: otherPub });
    assert.ok(!v.valid);
    assert.ok(v.reasons.some((r) => r.startsWith('key_id')));
    assert.ok(v.reasons.some((r) => r.startsWith('signature')));
    // Signed by the other key, but claiming the example key's id.
    const forged = signAggregates(example.signed.payload, other);
    const w = verifySignedAggregates(forged, trust);
    assert.ok(!w.valid && w.reasons.some((r) => r.startsWith('signature')));
    // Correct signature by the other key, but the key id still names the example key.
    const x = verifySignedAggregates(forged, { resultsKey: otherPub });
    assert.ok(!x.valid && x.reasons.every((r) => r.startsWith('key_id')));
  });

  it('malformed input is refused without throwing', () => {
    const cases: unknown[] = [
      null,
      'x',
      {},
      { ...example.signed, extra: 1 },
      { ...example.signed, payload: { ...example.signed.payload, extra: 1 } },
      { ...example.signed, signature: example.signed.signature.slice(0, -4) },
      { ...example.signed, signature: bytesToBase64(new Uint8Array(64)) },
      { ...example.signed, payload: { ...example.signed.payload, pnl: Number.NaN } },
      { ...example.signed, payload: { ...example.signed.payload, pnl: -0 } },
      { ...example.signed, payload: { ...example.signed.payload, from: '2026-01-01T00:00:00Z' } },
      {
        ...example.signed,
        payload: { ...example.signed.payload, from: '2027-01-01T00:00:00.000Z' },
      },
      {
        ...example.signed,
        payload: { ...example.signed.payload, version: 'cloister/aggregates/v4' },
      },
      // The v3 daily series under the v2 version: an unknown member for v2, so refused.
      {
        ...example.signed,
        payload: { ...example.signed.payload, version: 'cloister/aggregates/v2' },
      },
      // v2 members under the v1 version: unknown members for v1, so refused.
      {
        ...example.signed,
        payload: { ...example.signed.payload, version: 'cloister/aggregates/v1' },
      },
      { ...example.signed, payload: { ...example.signed.payload, audience: 'a b' } },
      { ...example.signed, payload: { ...example.signed.payload, nonce: 'short' } },
      {
        ...example.signed,
        payload: { ...example.signed.payload, symbols_scanned: ['ETH/BTC', 'BTC/USDT'] },
      },
    ];
    for (const c of cases)
      assert.equal(verifySignedAggregates(c, trust).valid, false, JSON.stringify(c).slice(0, 80));
    assert.equal(verifySignedAggregates(example.signed, { resultsKey: 'nope' }).valid, false);
  });

  it('a measurement policy is applied when given', () => {
    const m = example.signed.payload.measurement;
    assert.ok(
      verifySignedAggregates(example.signed, { ...trust, expectedMeasurements: [m] }).valid,
    );
    const v = verifySignedAggregates(example.signed, {
      ...trust,
      expectedMeasurements: ['00'.repeat(48)],
    });
    assert.ok(!v.valid && v.reasons.some((r) => r.startsWith('measurement')));
  });

  it("api_host: only the exchange's official hosts by default, others only when named", () => {
    const key = ed25519PrivateKeyObject(EXAMPLE_SEED);
    const fakeHost = signAggregates({ ...example.signed.payload, api_host: '127.0.0.1:8443' }, key);
    const v = verifySignedAggregates(fakeHost, trust);
    assert.ok(
      !v.valid && v.reasons.some((r) => r.startsWith('api_host')),
      'a validly signed result from another host is refused',
    );
    assert.ok(
      verifySignedAggregates(fakeHost, { ...trust, allowedApiHosts: ['127.0.0.1:8443'] }).valid,
    );
    const official = verifySignedAggregates(example.signed, {
      ...trust,
      allowedApiHosts: ['127.0.0.1:8443'],
    });
    assert.ok(!official.valid, 'an explicit list replaces the default');
  });

  it('the signer refuses a malformed payload and a key that is not Ed25519', () => {
    const key = ed25519PrivateKeyObject(EXAMPLE_SEED);
    assert.throws(() => signAggregates({ ...example.signed.payload, pnl: Infinity }, key));
    assert.throws(() => signAggregates({ ...example.signed.payload, secret: 'x' }, key));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    assert.throws(() => signAggregates(example.signed.payload, ec), TypeError);
  });
});

describe('signed aggregates: log inclusion', () => {
  const logSeed = new Uint8Array(32).fill(7);
  const logPub = ed25519.getPublicKey(logSeed);
  const logTrust = { logPublicKey: bytesToBase64(logPub) };
  const origin = logOrigin(logPub);

  async function logWith(entryText: string, seed = logSeed) {
    const tree = new MerkleTree();
    const other = logEntryBytes({
      v: 1,
      type: 'session.revoked',
      subject: 'a'.repeat(64),
      time: 1,
    });
    for (let i = 0; i < 5; i++) tree.append(leafHash(other));
    const index = tree.size;
    tree.append(leafHash(utf8.encode(entryText)));
    for (let i = 0; i < 3; i++) tree.append(leafHash(other));
    const text = formatCheckpoint({ origin, size: tree.size, rootHash: tree.root() });
    const pub = ed25519.getPublicKey(seed);
    const checkpoint = await signNote(text, [
      { name: origin, publicKey: pub, sign: (m) => ed25519.sign(m, seed) },
    ]);
    return {
      entry: entryText,
      index,
      proof: tree.inclusionProof(index).map(bytesToBase64),
      checkpoint,
      merkleRoot: bytesToBase64(tree.root()),
    };
  }

  it('a logged result verifies; the entry names the session hash and the digest', async () => {
    const entry = aggregatesLogEntry(example.signed.payload);
    assert.equal(entry.subject, sessionLogSubject('00000000-0000-4000-8000-000000000000'));
    assert.equal(entry.digests.payload, aggregatesDigest(example.signed.payload));
    const log = await logWith(jcs(entry));
    const v = verifyAggregatesInclusion(example.signed, log, logTrust);
    assert.equal(v.valid, true, JSON.stringify(v.reasons));
    const hex = Buffer.from(log.merkleRoot, 'base64').toString('hex');
    assert.ok(
      verifyAggregatesInclusion(example.signed, { ...log, merkleRoot: hex }, logTrust).valid,
    );
  });

  it('fails for another payload, another session, a wrong index, root or log key', async () => {
    const entry = aggregatesLogEntry(example.signed.payload);
    const log = await logWith(jcs(entry));
    const tampered = clone(example.signed);
    // (not `pnl`: a v3 payload whose days no longer sum to it fails the schema first)
    tampered.payload.volume += 1;
    const reasons = (s: unknown, l: typeof log, t = logTrust) => {
      const v = verifyAggregatesInclusion(s, l, t);
      assert.equal(v.valid, false);
      return v.reasons.join('; ');
    };
    assert.match(reasons(tampered, log), /digest/);
    const otherSession = {
      ...example.signed,
      payload: { ...example.signed.payload, session: 'b'.repeat(64) },
    };
    assert.match(reasons(otherSession, log), /subject/);
    assert.match(reasons(example.signed, { ...log, index: log.index + 1 }), /inclusion/);
    assert.match(
      reasons(example.signed, { ...log, merkleRoot: 'AA' + log.merkleRoot.slice(2) }),
      /merkle_root/,
    );
    const foreign = await logWith(jcs(entry), new Uint8Array(32).fill(9));
    assert.match(reasons(example.signed, foreign), /checkpoint/);
    // The entry text must be exactly its canonical form (the leaf hashes those bytes).
    const spaced = await logWith(JSON.stringify(entry, null, 1));
    assert.match(reasons(example.signed, spaced), /canonical/);
    const wrongType = await logWith(jcs({ ...entry, type: 'session.revoked' }));
    assert.match(reasons(example.signed, wrongType), /entry/);
  });
});

describe('signed aggregates: the worked example in the spec', () => {
  const doc = readFileSync(
    new URL('../../docs/protocol/signed-aggregates.md', import.meta.url),
    'utf8',
  );

  it('shows the values the code produces today', () => {
    for (const value of [
      example.seedHex,
      example.resultsKey,
      example.signed.payload.key_id,
      example.payloadJcs,
      example.signed.signature,
      example.digest,
      example.logEntry,
    ]) {
      assert.ok(doc.includes(value), `the document lacks ${value.slice(0, 60)}`);
    }
  });

  it('its signature verifies with an independent Ed25519 implementation', () => {
    const msg = utf8.encode(`${AGGREGATES_SIGNING_CONTEXT}${example.payloadJcs}`);
    const sig = Buffer.from(example.signed.signature, 'base64');
    assert.ok(ed25519.verify(sig, msg, Buffer.from(example.resultsKey, 'base64')));
    assert.deepEqual(
      Buffer.from(ed25519.getPublicKey(EXAMPLE_SEED)).toString('base64'),
      example.resultsKey,
    );
    const payload: AggregatesPayload = JSON.parse(example.payloadJcs);
    assert.equal(jcs(payload), example.payloadJcs);
  });
});
