/**
 * Sealed state written before the keyring refactor still opens (test/enclave/fixtures/sealed-v1):
 * an existing DATA_DIR keeps its credential keys, its JWT keys, its password hashes and its
 * sealed refresh responses across the upgrade.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { unsealPasswordHash } from '../../src/enclave/auth/tokens.js';
import { testEnclave } from '../helpers/enclave-state.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'sealed-v1');
const fixture = JSON.parse(readFileSync(join(FIXTURE, 'sealed.json'), 'utf8'));

function legacyEnclave() {
  const dir = mkdtempSync(join(tmpdir(), 'sealed-v1-'));
  for (const f of ['platform.secret', 'vendor.key']) copyFileSync(join(FIXTURE, f), join(dir, f));
  const t = testEnclave({ dir });
  t.clock.now = fixture.now;
  return t;
}

describe('sealed state from before the keyring refactor', () => {
  it('the credential keyring unseals with every key', () => {
    const t = legacyEnclave();
    const r = HANDLERS['keyring.unseal'](t.state, { sealed: fixture.credential.sealed });
    assert.deepEqual(r, { public: fixture.credential.public });
    assert.equal(t.state.phase, 'ready');
  });

  it('the auth keyring, a password hash and a sealed refresh response open', async () => {
    const t = legacyEnclave();
    HANDLERS['keyring.unseal'](t.state, { sealed: fixture.credential.sealed });
    const r = await HANDLERS['auth.init'](t.state, { sealed: fixture.auth.sealed });
    assert.deepEqual(r, {
      generation: fixture.auth.generation,
      keys: fixture.auth.jwks,
      signing_kid: fixture.auth.signing_kid,
      sealed: null,
    });
    const { user_id, sealed, phc } = fixture.password;
    assert.equal(unsealPasswordHash(t.state.platform, 'signer', user_id, sealed), phc);
    t.clock.now = fixture.refresh.response.issued_at + 1;
    const replayed = HANDLERS['auth.refresh_replay'](t.state, {
      refresh_token: fixture.refresh.token,
      user_id,
      session_id: '00000000-0000-4000-8000-000000000002',
      sealed_response: fixture.refresh.sealed_response,
    });
    const { issued_at: _at, ...pair } = fixture.refresh.response;
    assert.deepEqual(replayed, pair);
  });
});
