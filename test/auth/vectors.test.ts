/**
 * Standard vectors for the auth primitives: @node-rs/argon2 (what the enclave hashes with)
 * verifies every Argon2id PHC string of the reference implementation's test.c (v0x13, ≤ 64 MiB)
 * and refuses a wrong password and the malformed encodings; the enclave's PHC parameter parser
 * asks for a rehash exactly when they are below the configured ones. The RFC 7515 A.3 ES256 JWS
 * verifies with jose, its alg:none sibling (A.5) is refused, and our EC thumbprint equals jose's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { verify } from '@node-rs/argon2';
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import { PasswordHasher } from '../../src/enclave/auth/argon2.js';
import { ecThumbprint } from '../../src/protocol/auth.js';

interface Case {
  type: string;
  version: number;
  m_cost_kib: number;
  password_ascii: string;
  expected_encoded: string;
}
const argon = JSON.parse(
  readFileSync(new URL('./data/phc-winner-argon2-test-c.json', import.meta.url), 'utf8'),
) as { cases: Case[]; verify_error_cases: { encoded: string; password_ascii: string }[] };
const jose = JSON.parse(
  readFileSync(new URL('../vectors/data/jose/jose-rfc-examples.json', import.meta.url), 'utf8'),
) as {
  examples: {
    id: string;
    jwk?: Record<string, string>;
    protected_b64u: string;
    payload_b64u: string;
    signature_b64u?: string;
  }[];
};

describe('Argon2id vectors (phc-winner-argon2 test.c)', () => {
  const cases = argon.cases.filter(
    (c) => c.type === 'argon2id' && c.version === 19 && c.m_cost_kib <= 65536,
  );
  it('has cases to check', () => assert.ok(cases.length >= 6));
  for (const c of cases) {
    it(`verifies ${c.expected_encoded.slice(0, 40)}…`, async () => {
      assert.equal(await verify(c.expected_encoded, c.password_ascii), true);
      assert.equal(await verify(c.expected_encoded, `${c.password_ascii}x`), false);
    });
  }
  it('refuses the malformed encodings', async () => {
    for (const e of argon.verify_error_cases) {
      const ok = await verify(e.encoded, e.password_ascii).catch(() => false);
      assert.equal(ok, false, e.encoded);
    }
  });
  it('asks for a rehash only when the stored parameters are below the configured ones', () => {
    const h = new PasswordHasher({ memoryCost: 65536, timeCost: 2, parallelism: 1 }, 1, 1);
    const byParams = (m: number, t: number) =>
      cases.find((c) => c.m_cost_kib === m && c.expected_encoded.includes(`t=${t},`));
    assert.equal(h.needsRehash(byParams(65536, 2)!.expected_encoded), false);
    assert.equal(h.needsRehash(byParams(256, 2)!.expected_encoded), true);
    assert.equal(h.needsRehash('not a phc string'), true);
  });
});

describe('JOSE vectors', () => {
  const es = jose.examples.find((e) => e.id === 'rfc7515-A.3-ES256')!;
  const none = jose.examples.find((e) => e.id.startsWith('rfc7515-A.5'))!;
  const pub = { kty: 'EC', crv: 'P-256', x: es.jwk!.x!, y: es.jwk!.y! };

  it('RFC 7515 A.3 ES256 verifies; a flipped payload does not', async () => {
    const key = await importJWK(pub, 'ES256');
    const jws = `${es.protected_b64u}.${es.payload_b64u}.${es.signature_b64u}`;
    await compactVerify(jws, key, { algorithms: ['ES256'] });
    const flipped = `${es.protected_b64u}.${es.payload_b64u.slice(0, -2)}xx.${es.signature_b64u}`;
    await assert.rejects(compactVerify(flipped, key, { algorithms: ['ES256'] }));
  });
  it('RFC 7515 A.5 alg:none is refused with ES256 pinned', async () => {
    const key = await importJWK(pub, 'ES256');
    await assert.rejects(
      compactVerify(`${none.protected_b64u}.${none.payload_b64u}.`, key, { algorithms: ['ES256'] }),
    );
  });
  it('our EC thumbprint (JWKS kid) equals jose calculateJwkThumbprint', async () => {
    assert.equal(ecThumbprint(pub.x, pub.y), await calculateJwkThumbprint(pub));
  });
});
