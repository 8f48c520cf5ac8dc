/**
 * Property: sessions are isolated from one another. Revoking one session leaves every other
 * session active and decryptable; an unknown session id is answered 404 SESSION_NOT_FOUND; and
 * the enclave's binding (HMAC over session id, envelope digest, key id, exchange, label and
 * expiry) stops anyone with write access to the database from moving one session's ciphertext
 * to another session, swapping bindings, or extending/relabelling a session: the enclave refuses
 * the tampered session, and restoring the original columns makes it 'ok' again.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import {
  STACK_TRACE_RE,
  assertError,
  enclaveKey,
  sessionStatus,
  submitOk,
  type Submitted,
} from '../helpers/security-util.js';
import type { Queryable } from '../../src/host/db/database.js';

const CRED_COLS = [
  'alg',
  'key_id',
  'ephemeral_pub',
  'nonce',
  'ciphertext',
  'tag',
  'binding',
  'envelope_digest',
] as const;
type CredRow = Record<(typeof CRED_COLS)[number] | 'expires_at', unknown>;
type SessionRow = { label: string; expires_at: unknown; created_at: unknown };

async function credRow(db: Pick<Queryable, 'query'>, id: string): Promise<CredRow> {
  const { rows } = await db.query<CredRow>(
    `SELECT ${CRED_COLS.join(', ')}, expires_at FROM credentials WHERE session_id = $1`,
    [id],
  );
  assert.equal(rows.length, 1, `credentials row of ${id}`);
  return rows[0]!;
}

async function sessionRow(db: Pick<Queryable, 'query'>, id: string): Promise<SessionRow> {
  const { rows } = await db.query<SessionRow>(
    'SELECT label, expires_at, created_at FROM sessions WHERE id = $1',
    [id],
  );
  return rows[0]!;
}

async function writeCred(
  db: Pick<Queryable, 'query'>,
  id: string,
  row: Partial<CredRow>,
): Promise<void> {
  const cols = Object.keys(row);
  const sets = cols.map((c, i) => `${c} = $${i + 2}`).join(', ');
  await db.query(`UPDATE credentials SET ${sets} WHERE session_id = $1`, [
    id,
    ...cols.map((c) => row[c as keyof CredRow]),
  ]);
}

/** The enclave refused the stored credential: an error answer, never 'ok', nothing leaked. */
function assertRefused(res: LightMyRequestResponse, what: string): void {
  assert.notEqual(res.statusCode, 200, `${what}: tampered session still answered ${res.body}`);
  assert.ok(res.statusCode >= 400, `${what}: ${res.statusCode}`);
  const body = res.json() as { error?: { code?: string; message?: string }; credential?: string };
  assert.equal(body.credential, undefined, what);
  assert.equal(typeof body.error?.code, 'string', what);
  assert.equal(typeof body.error?.message, 'string', what);
  assert.doesNotMatch(res.body, STACK_TRACE_RE, what);
}

for (const engine of engines()) {
  describe(`session isolation on ${engine}`, () => {
    let ts: TestService;
    let pub: string;

    before(async () => {
      ts = await startTestService(engine);
      ({ pub } = await enclaveKey(ts));
    });
    after(async () => ts?.stop());

    const fresh = (tag: string, opts: { hpke?: 'HPKE-Base-X25519-SHA256-A256GCM' } = {}) =>
      submitOk(ts.service.app, pub, uniqueCredentials(tag), { label: `iso-${tag}`, ...opts });

    it('revoking one session leaves the other active and decryptable', async () => {
      const a = await fresh('a');
      const b = await fresh('b');
      const rev = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: a.sessionId },
      });
      assert.equal(rev.statusCode, 200, rev.body);

      const sa = await sessionStatus(ts.service.app, a.sessionId);
      assert.equal(sa.statusCode, 200);
      assert.equal(sa.json().status, 'revoked');
      assert.equal(sa.json().credential, 'absent');
      const sb = await sessionStatus(ts.service.app, b.sessionId);
      assert.equal(sb.statusCode, 200, sb.body);
      assert.equal(sb.json().status, 'active');
      assert.equal(sb.json().credential, 'ok');
      const { rows } = await ts.service.db.query<{ session_id: string }>(
        'SELECT session_id FROM credentials WHERE session_id = ANY($1::uuid[])',
        [[a.sessionId, b.sessionId]],
      );
      assert.deepEqual(
        rows.map((r) => r.session_id),
        [b.sessionId],
      );
    });

    it('answers 404 SESSION_NOT_FOUND for a session id that does not exist', async () => {
      const id = randomUUID();
      assertError(await sessionStatus(ts.service.app, id), 404, 'SESSION_NOT_FOUND', 'status');
      assertError(
        await ts.service.app.inject({
          method: 'POST',
          url: '/enclave/revoke',
          payload: { session_id: id },
        }),
        404,
        'SESSION_NOT_FOUND',
        'revoke',
      );
    });

    // Each case tampers with session B using values from session A (or made up), checks the
    // enclave refuses B, then restores B and checks it is 'ok' again (so the refusal is caused by
    // the tampering and nothing else).
    const cases: {
      name: string;
      hpke?: boolean;
      tamper(db: Pick<Queryable, 'query'>, a: Submitted, b: Submitted): Promise<void>;
    }[] = [
      {
        name: "A's whole envelope re-attached to B (B keeps its own binding)",
        async tamper(db, a, b) {
          const ra = await credRow(db, a.sessionId);
          await db.query('DELETE FROM credentials WHERE session_id = $1', [a.sessionId]); // ephemeral_pub is UNIQUE
          const envelope: Partial<CredRow> = { ...ra };
          delete envelope.binding;
          await writeCred(db, b.sessionId, envelope);
        },
      },
      {
        name: "A's envelope and A's binding re-attached to B",
        async tamper(db, a, b) {
          const ra = await credRow(db, a.sessionId);
          await db.query('DELETE FROM credentials WHERE session_id = $1', [a.sessionId]);
          await writeCred(db, b.sessionId, ra);
        },
      },
      {
        name: "A's envelope, binding, expiry and label moved to B (HPKE)",
        hpke: true,
        async tamper(db, a, b) {
          const ra = await credRow(db, a.sessionId);
          const sa = await sessionRow(db, a.sessionId);
          await db.query('DELETE FROM credentials WHERE session_id = $1', [a.sessionId]);
          await writeCred(db, b.sessionId, ra);
          await db.query(
            'UPDATE sessions SET label = $2, created_at = $3, expires_at = $4 WHERE id = $1',
            [b.sessionId, sa.label, sa.created_at, sa.expires_at],
          );
        },
      },
      {
        name: 'only the ciphertext of A copied into B',
        async tamper(db, a, b) {
          const ra = await credRow(db, a.sessionId);
          await writeCred(db, b.sessionId, { ciphertext: ra.ciphertext });
        },
      },
      {
        name: "A's binding copied onto B",
        async tamper(db, a, b) {
          const ra = await credRow(db, a.sessionId);
          await writeCred(db, b.sessionId, { binding: ra.binding });
        },
      },
      {
        name: "B's expiry extended by a day (sessions and credentials)",
        async tamper(db, _a, b) {
          await db.query(
            "UPDATE sessions SET expires_at = expires_at + interval '1 day' WHERE id = $1",
            [b.sessionId],
          );
          await db.query(
            "UPDATE credentials SET expires_at = expires_at + interval '1 day' WHERE session_id = $1",
            [b.sessionId],
          );
        },
      },
      {
        name: "B's label changed",
        async tamper(db, _a, b) {
          await db.query("UPDATE sessions SET label = 'renamed-by-dba' WHERE id = $1", [
            b.sessionId,
          ]);
        },
      },
    ];

    for (const c of cases) {
      it(`the binding refuses tampering: ${c.name}`, async () => {
        const opts = c.hpke ? { hpke: 'HPKE-Base-X25519-SHA256-A256GCM' as const } : {};
        const a = await fresh('donor', opts);
        const b = await fresh('victim', opts);
        const db = ts.service.db;
        for (const s of [a, b])
          assert.equal((await sessionStatus(ts.service.app, s.sessionId)).json().credential, 'ok');
        const origCred = await credRow(db, b.sessionId);
        const origSession = await sessionRow(db, b.sessionId);

        await c.tamper(db, a, b);
        assertRefused(await sessionStatus(ts.service.app, b.sessionId), c.name);
        // The refusal is stable, and the service keeps answering other sessions.
        assertRefused(await sessionStatus(ts.service.app, b.sessionId), `${c.name} (again)`);
        const other = await fresh('bystander');
        assert.equal(
          (await sessionStatus(ts.service.app, other.sessionId)).json().credential,
          'ok',
        );

        // Positive control: put B back exactly as it was and it opens again.
        await db.query('DELETE FROM credentials WHERE session_id = $1', [a.sessionId]);
        await writeCred(db, b.sessionId, origCred);
        await db.query(
          'UPDATE sessions SET label = $2, created_at = $3, expires_at = $4 WHERE id = $1',
          [b.sessionId, origSession.label, origSession.created_at, origSession.expires_at],
        );
        const restored = await sessionStatus(ts.service.app, b.sessionId);
        assert.equal(restored.statusCode, 200, restored.body);
        assert.equal(restored.json().credential, 'ok');
      });
    }
  });
}
