/**
 * Availability attack review (SECURITY.md, "Availability: attack review"): a WebAuthn body
 * nested thousands deep (20 KB, no token needed on the login route) passed JSON.parse and the
 * open record schema, then could not be forwarded to the enclave (JSON.stringify overflows): a
 * 500 INTERNAL, and before the enclave client's fix, every request framed with it failed too. Now
 * the boundary refuses it: 400 VALIDATION_FAILED naming the field. A real WebAuthn shape still
 * reaches the enclave (401 AUTH_PASSKEY_INVALID for one that verifies nothing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

describe('WebAuthn bodies: nesting bounded at the boundary', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
  });
  after(async () => ts?.stop());

  const verify = (body: string) =>
    ts.service.app.inject({
      method: 'POST',
      url: '/auth/passkeys/login/verify',
      headers: { 'content-type': 'application/json' },
      payload: body,
    });

  it('a body nested 10 000 deep is a 400, not a 500', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const res = await verify(`{"response":{"id":"AAAAAAAAAAAAAAAAAAAAAA","a":${deep}}}`);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, 'VALIDATION_FAILED');
    assert.equal(res.json().error.details[0].path, 'response');
  });

  it('a WebAuthn-shaped assertion still reaches the enclave', async () => {
    const assertion = {
      id: 'AAAAAAAAAAAAAAAAAAAAAA',
      rawId: 'AAAAAAAAAAAAAAAAAAAAAA',
      type: 'public-key',
      response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
      clientExtensionResults: { credProps: { rk: true } },
    };
    const res = await verify(JSON.stringify({ response: assertion }));
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().error.code, 'AUTH_PASSKEY_INVALID');
  });
});
