/**
 * The web app's reading of access-token claims (web/src/jwt.ts): what withSession uses to
 * refresh a token before it expires, and the roles and subject it shows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { claimsOf, expiresWithin, rolesOf, subOf } from '../../web/src/jwt.js';

const b64url = (s: string) => Buffer.from(s).toString('base64url');
const token = (claims: unknown) =>
  `${b64url('{"alg":"ES256"}')}.${b64url(JSON.stringify(claims))}.sig`;

describe('web app token claims', () => {
  it('a token whose exp is within the margin is due for a refresh; one further away is not', () => {
    const now = 1_800_000_000_000;
    const exp = now / 1000 + 60;
    assert.equal(expiresWithin(token({ exp }), 30, now), false);
    assert.equal(expiresWithin(token({ exp }), 61, now), true);
    assert.equal(expiresWithin(token({ exp: now / 1000 - 1 }), 30, now), true, 'expired');
  });

  it('no exp, or an unreadable token, is never refreshed early (the service answers 401 instead)', () => {
    assert.equal(expiresWithin(token({ sub: 'u' }), 30), false);
    assert.equal(expiresWithin('expired', 30), false);
    assert.equal(expiresWithin(token({ exp: '1' }), 30), false);
    assert.deepEqual(claimsOf('a.%%%.c'), {});
    assert.deepEqual(claimsOf(`a.${b64url('null')}.c`), {});
  });

  it('roles and subject: strings only', () => {
    assert.deepEqual(rolesOf(token({ roles: ['operator', 3, 'user'] })), ['operator', 'user']);
    assert.deepEqual(rolesOf(token({ roles: 'operator' })), []);
    assert.equal(subOf(token({ sub: 'abc' })), 'abc');
    assert.equal(subOf(token({ sub: 1 })), '');
  });
});
