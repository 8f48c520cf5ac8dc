/**
 * Method bindings (SIWE addresses, emails, passkeys, TOTP) are MACed under the auth keyring's
 * binding key, which travels with that keyring (sealed to the platform, or wrapped under the
 * cluster root: docs/protocol/cluster.md). So an instance that loads the same keyring, a cluster
 * member or a restored machine, verifies bindings another instance made; a different keyring
 * does not; and a keyring sealed before the key existed derives the same key every time it is
 * loaded (from its refresh key), then writes it out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthKeyring } from '../../src/enclave/auth/auth-keyring.js';
import { bindMethod, checkMethodBinding } from '../../src/enclave/auth/method-binding.js';
import { utf8 } from '../../src/protocol/encoding.js';

const user = '6f2b8c1e-4d7a-4b8e-9c1f-2a3b4c5d6e7f';
const other = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const addr = '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed';

describe('method bindings under the carried binding key', () => {
  it('verify on another instance that loaded the same keyring, not under another keyring', () => {
    const a = AuthKeyring.generate(1_800_000_000);
    const carried = AuthKeyring.deserialize(a.serialize());
    const binding = bindMethod(a, 'siwe', addr, user);
    assert.ok(checkMethodBinding(carried, 'siwe', addr, user, binding));
    assert.ok(
      checkMethodBinding(carried.rotated(1_800_000_100, 60, 1800), 'siwe', addr, user, binding),
    );
    assert.equal(checkMethodBinding(carried, 'siwe', addr, other, binding), false);
    assert.equal(checkMethodBinding(carried, 'email', addr, user, binding), false);
    assert.equal(checkMethodBinding(AuthKeyring.generate(1), 'siwe', addr, user, binding), false);
    // `extra` (a passkey's public key and counter) is bound too.
    const pk = bindMethod(a, 'passkey', 'cred', user, 'pk.5');
    assert.ok(checkMethodBinding(carried, 'passkey', 'cred', user, pk, 'pk.5'));
    assert.equal(checkMethodBinding(carried, 'passkey', 'cred', user, pk, 'pk.4'), false);
  });

  it('a keyring sealed without binding_key derives a stable one and then writes it out', () => {
    const a = AuthKeyring.generate(1_800_000_000);
    const data = JSON.parse(utf8.decode(a.serialize())) as Record<string, unknown>;
    delete data.binding_key;
    const legacy = utf8.encode(JSON.stringify(data));
    const first = AuthKeyring.deserialize(legacy);
    const second = AuthKeyring.deserialize(legacy);
    assert.deepEqual(first.bindingKey, second.bindingKey);
    assert.notDeepEqual(first.bindingKey, first.refreshKey);
    const binding = bindMethod(first, 'email', 'a@example.com', user);
    const resealed = AuthKeyring.deserialize(first.serialize());
    assert.ok(checkMethodBinding(resealed, 'email', 'a@example.com', user, binding));
    const written = JSON.parse(utf8.decode(first.serialize())) as Record<string, unknown>;
    assert.equal(typeof written.binding_key, 'string');
  });
});
