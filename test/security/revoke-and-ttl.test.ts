/**
 * Property: ciphertext does not outlive its session. Revoking a session deletes its credentials
 * row, marks it revoked (with ended_at) and records one 'session.revoked' ops event, touching no
 * other session. The TTL sweep (cleanup_expired_credentials() via the sweeper) deletes exactly
 * the credentials whose expiry has passed — no more, no fewer — marks exactly their sessions
 * 'expired', records exactly one 'credential.expired' event per expired session, and is
 * idempotent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import { CryptoHelper } from '../../src/client/index.js';
import { enclaveKey, sessionStatus, submitOk, type Submitted } from '../helpers/security-util.js';

const sorted = (xs: string[]) => [...xs].sort();

for (const engine of engines()) {
  describe(`revoke and TTL on ${engine}`, () => {
    let ts: TestService;
    let pub: string;

    before(async () => {
      ts = await startTestService(engine);
      ({ pub } = await enclaveKey(ts));
    });
    after(async () => ts?.stop());

    const q = <R = Record<string, unknown>>(sql: string, params?: unknown[]) =>
      ts.service.db.query<R>(sql, params);
    const opsEvents = async (type: string, ids: string[]) =>
      (
        await q<{ session_id: string }>(
          'SELECT session_id FROM ops_logs WHERE event_type = $1 AND session_id = ANY($2::uuid[]) ORDER BY id',
          [type, ids],
        )
      ).rows.map((r) => r.session_id);

    it('revoke purges the ciphertext, marks the session revoked and logs session.revoked', async () => {
      const victim = await submitOk(ts.service.app, pub, uniqueCredentials('rv'));
      const bystander = await submitOk(ts.service.app, pub, uniqueCredentials('by'));
      const ids = [victim.sessionId, bystander.sessionId];
      assert.equal(
        (await q('SELECT 1 FROM credentials WHERE session_id = $1', [victim.sessionId])).rows
          .length,
        1,
      );

      const res = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: victim.sessionId },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().success, true);
      assert.equal(res.json().message, 'Session revoked and data purged');

      const creds = await q<{ session_id: string }>(
        'SELECT session_id FROM credentials WHERE session_id = ANY($1::uuid[])',
        [ids],
      );
      assert.deepEqual(
        creds.rows.map((r) => r.session_id),
        [bystander.sessionId],
      );
      const { rows } = await q<{ id: string; status: string; ended: boolean }>(
        'SELECT id, status, ended_at IS NOT NULL AS ended FROM sessions WHERE id = ANY($1::uuid[])',
        [ids],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      assert.deepEqual(byId.get(victim.sessionId), {
        id: victim.sessionId,
        status: 'revoked',
        ended: true,
      });
      assert.deepEqual(byId.get(bystander.sessionId), {
        id: bystander.sessionId,
        status: 'active',
        ended: false,
      });
      assert.deepEqual(await opsEvents('session.revoked', ids), [victim.sessionId]);

      const st = await sessionStatus(ts.service.app, victim.sessionId);
      assert.equal(st.json().status, 'revoked');
      assert.equal(st.json().credential, 'absent');
      assert.equal(
        (await sessionStatus(ts.service.app, bystander.sessionId)).json().credential,
        'ok',
      );

      // A second revoke changes nothing and logs nothing.
      const again = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: victim.sessionId },
      });
      assert.equal(again.statusCode, 404);
      assert.equal(again.json().error.code, 'SESSION_NOT_FOUND');
      assert.deepEqual(await opsEvents('session.revoked', ids), [victim.sessionId]);
    });

    it('a revoked session put back from an old backup is refused by the enclave', async () => {
      // The attacker owns the database: it keeps a copy of the rows (a backup), lets the owner
      // revoke, then restores them. The binding is still valid (unexpired, unchanged columns),
      // so only the enclave's memory of the revocation it logged can refuse the credential.
      const victim = await submitOk(ts.service.app, pub, uniqueCredentials('backup'));
      const session = (await q('SELECT * FROM sessions WHERE id = $1', [victim.sessionId]))
        .rows[0]!;
      const credential = (
        await q('SELECT * FROM credentials WHERE session_id = $1', [victim.sessionId])
      ).rows[0]!;
      const revoked = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: victim.sessionId },
      });
      assert.equal(revoked.statusCode, 200, revoked.body);

      await q('UPDATE sessions SET status = $2, ended_at = $3 WHERE id = $1', [
        victim.sessionId,
        session['status'],
        session['ended_at'],
      ]);
      const cols = Object.keys(credential);
      await q(
        `INSERT INTO credentials (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
        cols.map((c) => credential[c]),
      );
      const st = await sessionStatus(ts.service.app, victim.sessionId);
      assert.notEqual(st.json().credential, 'ok', st.body);
      assert.equal(st.statusCode, 500, st.body);
      assert.equal(st.json().error.code, 'INTERNAL');
      // Another session is untouched by the revocation memory.
      const bystander = await submitOk(ts.service.app, pub, uniqueCredentials('backup-by'));
      assert.equal(
        (await sessionStatus(ts.service.app, bystander.sessionId)).json().credential,
        'ok',
      );
    });

    it('a host that forwards a longer ttl than the client sealed gets the sealed one bound', async () => {
      // The client asks for 10 minutes and seals that; the host (the attacker) forwards 2 hours.
      const creds = uniqueCredentials('ttl');
      const envelope = await CryptoHelper.encryptCredentials(creds, pub, { ttl: 600 });
      const res = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: {
          ...envelope,
          metadata: { exchange: creds.exchange, label: 'ttl', ttl: 7200 },
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      const id = (res.json() as { session_id: string }).session_id;
      const { rows } = await q<{ s: number; c: number }>(
        `SELECT extract(epoch FROM s.expires_at - s.created_at)::int AS s,
                extract(epoch FROM c.expires_at - c.created_at)::int AS c
           FROM sessions s JOIN credentials c ON c.session_id = s.id WHERE s.id = $1`,
        [id],
      );
      assert.deepEqual(rows[0], { s: 600, c: 600 });
      // Writing the longer expiry into the rows afterwards is caught by the binding.
      await q(
        `UPDATE credentials SET expires_at = created_at + interval '2 hours' WHERE session_id = $1`,
        [id],
      );
      await q(`UPDATE sessions SET expires_at = created_at + interval '2 hours' WHERE id = $1`, [
        id,
      ]);
      assert.equal((await sessionStatus(ts.service.app, id)).statusCode, 500);
    });

    it('a host that forwards another label than the client sealed is refused, and nothing is stored', async () => {
      const creds = uniqueCredentials('label');
      const envelope = await CryptoHelper.encryptCredentials(creds, pub, { label: 'mine' });
      const count = async () =>
        (await q<{ n: number }>('SELECT count(*)::int AS n FROM sessions')).rows[0]!.n;
      const before = await count();
      const res = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/submit_key',
        payload: { ...envelope, metadata: { exchange: creds.exchange, label: 'theirs', ttl: 600 } },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().error.code, 'ENVELOPE_LABEL_MISMATCH');
      assert.equal(await count(), before);
    });

    it('the TTL sweep deletes exactly the expired ciphertext and logs one credential.expired per session', async () => {
      // Start from a clean slate for the sweep's ids: earlier tests leave only unexpired rows.
      await ts.service.sweeper.runOnce();
      const live: Submitted[] = [];
      const doomed: Submitted[] = [];
      for (let i = 0; i < 3; i++)
        live.push(
          await submitOk(ts.service.app, pub, uniqueCredentials(`live${i}`), { ttl: 300 + i }),
        );
      for (let i = 0; i < 3; i++) {
        doomed.push(
          await submitOk(ts.service.app, pub, uniqueCredentials(`doom${i}`), {
            ...(i === 2 ? { hpke: 'HPKE-Base-X25519-SHA256-A128GCM' as const } : {}),
          }),
        );
      }
      // One session that is revoked already must stay revoked (the sweep only ends active sessions).
      const revoked = await submitOk(ts.service.app, pub, uniqueCredentials('rev'));
      assert.equal(
        (
          await ts.service.app.inject({
            method: 'POST',
            url: '/enclave/revoke',
            payload: { session_id: revoked.sessionId },
          })
        ).statusCode,
        200,
      );
      const doomedIds = doomed.map((s) => s.sessionId);
      const liveIds = live.map((s) => s.sessionId);
      const allIds = [...doomedIds, ...liveIds, revoked.sessionId];

      // Expire the doomed ones: expiry 1 s to 1 h in the past; created_at moved back so that
      // sessions keep expires_at > created_at. The revoked one is aged too (it has no ciphertext).
      for (const [i, id] of [...doomedIds, revoked.sessionId].entries()) {
        const ago = [3600, 60, 1, 120][i]!;
        await q(
          `UPDATE sessions SET created_at = now() - make_interval(secs => $2 + 7200),
                               expires_at = now() - make_interval(secs => $2) WHERE id = $1`,
          [id, ago],
        );
        await q(
          `UPDATE credentials SET created_at = now() - make_interval(secs => $2 + 7200),
                                  expires_at = now() - make_interval(secs => $2) WHERE session_id = $1`,
          [id, ago],
        );
      }
      // Expired at once, before any sweep: the status route reports it and does not open it.
      for (const s of doomed) {
        const st = (await sessionStatus(ts.service.app, s.sessionId)).json();
        assert.deepEqual([st.status, st.credential], ['expired', 'absent']);
      }
      const before = await q<{ n: number }>('SELECT count(*)::int AS n FROM credentials');

      const swept = await ts.service.sweeper.runOnce();
      assert.deepEqual(
        sorted(swept),
        sorted(doomedIds),
        'the sweep must end exactly the expired sessions',
      );

      const after = await q<{ n: number }>('SELECT count(*)::int AS n FROM credentials');
      assert.equal(Number(after.rows[0]!.n), Number(before.rows[0]!.n) - doomed.length);
      const left = await q<{ session_id: string }>(
        'SELECT session_id FROM credentials WHERE session_id = ANY($1::uuid[])',
        [allIds],
      );
      assert.deepEqual(sorted(left.rows.map((r) => r.session_id)), sorted(liveIds));

      const { rows } = await q<{ id: string; status: string; ended: boolean }>(
        'SELECT id, status, ended_at IS NOT NULL AS ended FROM sessions WHERE id = ANY($1::uuid[])',
        [allIds],
      );
      const status = new Map(rows.map((r) => [r.id, `${r.status}/${r.ended ? 'ended' : 'open'}`]));
      for (const id of doomedIds) assert.equal(status.get(id), 'expired/ended');
      for (const id of liveIds) assert.equal(status.get(id), 'active/open');
      assert.equal(status.get(revoked.sessionId), 'revoked/ended');

      const events = await opsEvents('credential.expired', allIds);
      assert.deepEqual(
        sorted(events),
        sorted(doomedIds),
        'one credential.expired event per expired session',
      );

      for (const s of doomed) {
        const st = await sessionStatus(ts.service.app, s.sessionId);
        assert.equal(st.statusCode, 200);
        assert.equal(st.json().status, 'expired');
        assert.equal(st.json().credential, 'absent');
      }
      for (const s of live)
        assert.equal((await sessionStatus(ts.service.app, s.sessionId)).json().credential, 'ok');

      // Idempotent: a second sweep finds nothing and logs nothing more.
      assert.deepEqual(await ts.service.sweeper.runOnce(), []);
      assert.equal((await opsEvents('credential.expired', allIds)).length, doomed.length);
    });

    it('a credential whose own expiry passed is purged even if its session row was not aged', async () => {
      const s = await submitOk(ts.service.app, pub, uniqueCredentials('credonly'));
      const other = await submitOk(ts.service.app, pub, uniqueCredentials('other'));
      await q(
        "UPDATE credentials SET expires_at = now() - interval '1 second' WHERE session_id = $1",
        [s.sessionId],
      );
      const swept = await ts.service.sweeper.runOnce();
      assert.deepEqual(swept, [s.sessionId]);
      const left = await q<{ session_id: string }>(
        'SELECT session_id FROM credentials WHERE session_id = ANY($1::uuid[])',
        [[s.sessionId, other.sessionId]],
      );
      assert.deepEqual(
        left.rows.map((r) => r.session_id),
        [other.sessionId],
      );
      assert.deepEqual(await opsEvents('credential.expired', [s.sessionId, other.sessionId]), [
        s.sessionId,
      ]);
      // Its ciphertext is gone, so the enclave is never asked to open it.
      assert.equal((await sessionStatus(ts.service.app, s.sessionId)).json().credential, 'absent');
    });
  });
}
