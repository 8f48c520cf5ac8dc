/**
 * The refresh grace window (`auth.refresh_replay`) against a host that sets the enclave's clock
 * back (SECURITY.md, "Sessions: attack review"): the window, and the expiry of the spent token
 * it replays, are read on the clock that never goes back, as for `auth.refresh`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testEnclave } from '../helpers/enclave-state.js';
import { account } from '../mutation-killers/auth-account.js';
import { ok, rpc } from '../mutation-killers/rpc.js';

const MAX_AGE = 3600;

async function refreshed(at: (signedInAt: number) => number) {
  const t = testEnclave({ env: { AUTH_SESSION_MAX_AGE_SECONDS: String(MAX_AGE) } });
  await ok(t, 'keyring.generate', { policy: 'signer' });
  await ok(t, 'auth.init', { sealed: null });
  const { login } = await account(t);
  const signedInAt = t.clock.now;
  t.clock.now = at(signedInAt);
  const r = await ok(t, 'auth.refresh', {
    refresh_token: login.refresh_token,
    user_id: login.user_id,
    session_id: login.session_id,
    roles: [],
  });
  const replay = async () => {
    const a = await rpc(t, 'auth.refresh_replay', {
      refresh_token: login.refresh_token,
      user_id: login.user_id,
      session_id: login.session_id,
      sealed_response: r.sealed_response,
    });
    return a.ok ? 'ok' : a.error.code;
  };
  return { t, signedInAt, issuedAt: t.clock.now, replay };
}

describe('refresh grace window against a clock set back', () => {
  it('a replay past the window stays refused when the host sets the clock back into it', async () => {
    const { t, issuedAt, replay } = await refreshed((s) => s + 600);
    assert.equal(await replay(), 'ok');
    t.clock.now = issuedAt + 600;
    assert.equal(await replay(), 'AUTH_REFRESH_REUSED');
    t.clock.now = issuedAt;
    assert.equal(await replay(), 'AUTH_REFRESH_REUSED');
  });

  it('no replay after the session has ended, whatever the clock says then', async () => {
    const { t, signedInAt, issuedAt, replay } = await refreshed((s) => s + MAX_AGE - 60);
    t.clock.now = signedInAt + MAX_AGE + 60;
    assert.notEqual(await replay(), 'ok');
    t.clock.now = issuedAt;
    assert.notEqual(await replay(), 'ok');
  });
});
