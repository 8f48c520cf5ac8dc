/**
 * The refresh grace window replays a pair only while that pair's refresh token is unused
 * (docs/protocol/auth.md "Grace window"). After A→B and B→C, presenting A again, even within the
 * window, is a reuse: every session of the user is revoked, `auth.refresh_reused` is logged, and
 * B's and C's access tokens are refused by the guard. Controls: A again while B is unused gets
 * B's pair; B again while C is unused gets C's pair.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { engines, startTestService, type TestService } from '../helpers/service.js';

for (const engine of engines())
  describe(`refresh grace window and the successor (${engine})`, () => {
    let ts: TestService;
    const post = (url: string, payload?: Record<string, unknown>, token?: string) =>
      ts.service.app.inject({
        method: 'POST',
        url,
        ...(payload !== undefined ? { payload } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const reusedEntries = async () =>
      (
        await ts.service.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM merkle_logs WHERE entry::text LIKE '%auth.refresh_reused%'",
        )
      ).rows[0]!.n;

    before(async () => {
      ts = await startTestService(engine, {
        AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
        // Long enough that every presentation below is inside the window.
        AUTH_REFRESH_GRACE_SECONDS: '60',
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
      });
    });
    after(async () => {
      await ts?.stop();
    });

    it('A→B, B→C, then A within the window: reuse, every session revoked', async () => {
      const password = 'chain-password-000001';
      const email = 'chain@example.com';
      await post('/auth/register', { email, password });
      const a = (await post('/auth/login', { email, password })).json();
      const other = (await post('/auth/login', { email, password })).json();

      const rb = await post('/auth/refresh', { refresh_token: a.refresh_token });
      assert.equal(rb.statusCode, 200, rb.body);
      const b = rb.json();
      // Control: B is unused, so A again is a retry and gets B's pair.
      const retry = await post('/auth/refresh', { refresh_token: a.refresh_token });
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.json().refresh_token, b.refresh_token);

      const rc = await post('/auth/refresh', { refresh_token: b.refresh_token });
      assert.equal(rc.statusCode, 200, rc.body);
      const c = rc.json();
      // Control: C is unused, so B again is still a retry and gets C's pair.
      const retryB = await post('/auth/refresh', { refresh_token: b.refresh_token });
      assert.equal(retryB.statusCode, 200, retryB.body);
      assert.equal(retryB.json().refresh_token, c.refresh_token);
      assert.equal(await reusedEntries(), 0);

      // B's successor C has been used: A's replay would hand out B's pair again. Reuse.
      const reuse = await post('/auth/refresh', { refresh_token: a.refresh_token });
      assert.equal(reuse.statusCode, 401, reuse.body);
      assert.equal(reuse.json().error.code, 'AUTH_REFRESH_REUSED');
      assert.equal(await reusedEntries(), 1);

      for (const t of [b.access_token, c.access_token, other.access_token]) {
        const r = await post('/auth/logout', undefined, t);
        assert.equal(r.statusCode, 401);
        assert.equal(r.json().error.code, 'AUTH_TOKEN_INVALID');
      }
      for (const t of [c.refresh_token, other.refresh_token]) {
        const r = await post('/auth/refresh', { refresh_token: t });
        assert.equal(r.json().error.code, 'AUTH_REFRESH_INVALID');
      }
      const { rows } = await ts.service.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM auth_sessions s JOIN users u ON u.id = s.user_id
         WHERE u.email = $1 AND s.revoked_at IS NULL`,
        [email],
      );
      assert.equal(rows[0]!.n, 0);
    });
  });
