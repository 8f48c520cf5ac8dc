/**
 * The seed's quick start, end to end through the SDK, on PGlite and (with TEST_DATABASE_URL) on
 * PostgreSQL: quote → verify → encrypt → submit → status (enclave re-opens the stored envelope)
 * → revoke (ciphertext purged) — plus HPKE submissions and credential-key rotation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CryptoHelper } from '../../src/client/index.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';

for (const engine of engines()) {
  describe(`seed flow on ${engine}`, () => {
    let ts: TestService;
    before(async () => {
      ts = await startTestService(engine);
    });
    after(async () => ts?.stop());

    it('serves a quote that the SDK verifies, and refuses it without the trusted vendor key', async () => {
      const { verification } = await verifiedAttestation(ts);
      assert.equal(verification.platform, 'simulated');
      assert.equal(verification.debug, true);
      const res = await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
      const seedStyle = await CryptoHelper.verifyAttestation(res.json(), res.json().image_hash);
      assert.equal(seedStyle.valid, false);
      assert.ok(seedStyle.reasons.some((r) => r.includes('simulated platform refused')));
    });

    it('accepts a v1 envelope, reports the session, and revokes it', async () => {
      const { verification } = await verifiedAttestation(ts);
      const res = await submit(
        ts.service.app,
        verification.enclavePubkey!,
        uniqueCredentials(),
        undefined,
        verification.keyId!,
      );
      assert.equal(res.statusCode, 200, res.body);
      const { session_id, key_id, log, merkle_root, logs_url } = res.json();
      assert.match(session_id, /^[0-9a-f-]{36}$/);
      assert.equal(key_id, verification.keyId);
      // The acknowledgement carries its log receipt: the entry is in a checkpoint already.
      assert.equal(logs_url, `/api/logs/${session_id}`);
      assert.equal(merkle_root, log.root_hash);
      assert.ok(Number.isInteger(log.index) && log.index < log.tree_size);

      const status = await ts.service.app.inject({
        method: 'GET',
        url: `/enclave/sessions/${session_id}`,
      });
      assert.equal(status.statusCode, 200, status.body);
      assert.equal(status.json().status, 'active');
      assert.equal(status.json().credential, 'ok');

      const revoke = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id },
      });
      assert.equal(revoke.statusCode, 200);
      const revoked = revoke.json();
      assert.equal(revoked.success, true);
      assert.equal(revoked.message, 'Session revoked and data purged');
      assert.equal(revoked.logs_url, logs_url);
      assert.ok(revoked.log.index > log.index && revoked.log.tree_size > log.tree_size);
      const entries = await ts.service.app.inject({ method: 'GET', url: logs_url });
      assert.equal(entries.statusCode, 200, entries.body);
      assert.deepEqual(
        entries.json().entries.map((e: { index: number }) => e.index),
        [log.index, revoked.log.index],
      );
      const { rows } = await ts.service.db.query(
        'SELECT count(*)::int AS n FROM credentials WHERE session_id = $1',
        [session_id],
      );
      assert.equal(rows[0]!.n, 0);
      const after = await ts.service.app.inject({
        method: 'GET',
        url: `/enclave/sessions/${session_id}`,
      });
      assert.equal(after.json().status, 'revoked');
      assert.equal(after.json().credential, 'absent');
      const again = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id },
      });
      assert.equal(again.statusCode, 404);
      assert.equal(again.json().error.code, 'SESSION_NOT_FOUND');
    });

    for (const alg of [
      'HPKE-Base-X25519-SHA256-A128GCM',
      'HPKE-Base-X25519-SHA256-A256GCM',
    ] as const) {
      it(`accepts an HPKE envelope (${alg}) and can re-open it from storage`, async () => {
        const { verification } = await verifiedAttestation(ts);
        const env = await CryptoHelper.encryptCredentialsHpke(
          uniqueCredentials(),
          verification.enclavePubkey!,
          { alg },
        );
        const res = await ts.service.app.inject({
          method: 'POST',
          url: '/enclave/submit_key',
          payload: { ...env, metadata: { exchange: 'binance', label: 'hpke', ttl: 600 } },
        });
        assert.equal(res.statusCode, 200, res.body);
        const status = await ts.service.app.inject({
          method: 'GET',
          url: `/enclave/sessions/${res.json().session_id}`,
        });
        assert.equal(status.json().credential, 'ok');
      });
    }

    it('rotates the credential key and still opens envelopes sealed to the old one', async () => {
      const { verification: before } = await verifiedAttestation(ts);
      const old = await submit(
        ts.service.app,
        before.enclavePubkey!,
        uniqueCredentials(),
        undefined,
        before.keyId!,
      );
      assert.equal(old.statusCode, 200);
      const keys = await ts.service.rotation.rotateOnce();
      assert.notEqual(keys.current_key_id, before.keyId);
      const retiredAt = keys.credential_keys.find((k) => k.key_id === before.keyId)?.retired_at;
      assert.ok(typeof retiredAt === 'number');

      const { verification: after } = await verifiedAttestation(ts);
      assert.equal(after.keyId, keys.current_key_id);
      // An envelope still in flight to the old key (sealed by the second it retired: this
      // service's clock skew is 0, so a later one is refused) is accepted; the stored one opens.
      const late = await submit(
        ts.service.app,
        before.enclavePubkey!,
        uniqueCredentials(),
        undefined,
        before.keyId!,
        retiredAt,
      );
      assert.equal(late.statusCode, 200, late.body);
      for (const id of [old.json().session_id, late.json().session_id]) {
        const s = await ts.service.app.inject({ method: 'GET', url: `/enclave/sessions/${id}` });
        assert.equal(s.json().credential, 'ok');
      }
      const { rows } = await ts.service.db.query<{ generation: number }>(
        'SELECT max(generation) AS generation FROM enclave_state',
      );
      assert.equal(Number(rows[0]!.generation), keys.generation);
    });
  });
}
