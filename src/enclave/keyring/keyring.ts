/**
 * The enclave's keyring (ARCHITECTURE.md "Keys the enclave holds"): X25519 credential keys
 * (one current, older ones kept while an envelope may still use them), an Ed25519
 * result-signing key, an Ed25519 log key, and an HMAC key that binds stored credentials to
 * their session. Private material never leaves this object except through `serialize()`,
 * whose output only ever goes to the keyring slot's sealer (keyring-slot.ts). See README.md here
 * for the invariants.
 */
import { createHmac, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { base64ToBytes, bytesEqual, bytesToBase64, utf8 } from '../../protocol/encoding.js';
import { jcs } from '../../protocol/jcs.js';
import { okpThumbprint } from '../../protocol/key-id.js';
import type { X25519Recipient } from '../../protocol/envelope/primitives.js';
import type { PublicKeys } from '../../protocol/rpc/methods.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { ed25519PrivateKeyObject, ed25519RawPublic, ed25519RawSeed } from '../crypto/ed25519.js';
import {
  x25519PrivateKeyObject,
  x25519RawPrivate,
  x25519RawPublic,
  x25519WithKeyObject,
} from '../crypto/node-primitives.js';
import { rotateKeys } from './generations.js';
import { KeyringDataSchema, type KeyringData } from './keyring-data.js';

interface CredentialKey {
  readonly id: string;
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

const BINDING_CONTEXT = 'cloister/credential-binding/v1\n';

export interface BindingFields {
  session_id: string;
  key_id: string;
  envelope_digest: string;
  exchange: string;
  label: string;
  expires_at: number;
}

export class Keyring {
  private constructor(
    readonly generation: number,
    private readonly credentialKeys: readonly CredentialKey[],
    private readonly resultKey: SigningKey,
    private readonly logKey: SigningKey,
    private readonly bindingKey: Uint8Array,
  ) {
    if (!credentialKeys.some((k) => k.retiredAt === null))
      throw new Error('keyring has no current key');
  }

  static generate(now: number): Keyring {
    return new Keyring(
      1,
      [newCredentialKey(now)],
      newSigningKey(),
      newSigningKey(),
      new Uint8Array(randomBytes(32)),
    );
  }

  /**
   * A new keyring with a fresh current key. The previous current key is retired now; retired
   * keys older than `retentionSeconds` are dropped, because no envelope that could still be
   * stored or in flight can name them (retention = max TTL + envelope age + clock skew).
   */
  rotated(now: number, retentionSeconds: number): Keyring {
    return new Keyring(
      this.generation + 1,
      rotateKeys(this.credentialKeys, newCredentialKey(now), {
        now,
        retireAt: now,
        retentionSeconds,
      }),
      this.resultKey,
      this.logKey,
      this.bindingKey,
    );
  }

  current(): CredentialKey {
    return this.credentialKeys.find((k) => k.retiredAt === null)!;
  }

  /** The recipient for an envelope: its key_id if it names one, else the current key. */
  recipient(keyId?: string): X25519Recipient {
    const key =
      keyId === undefined ? this.current() : this.credentialKeys.find((k) => k.id === keyId);
    if (!key) throw new RpcError('ENVELOPE_UNKNOWN_KEY');
    return {
      keyId: key.id,
      publicKey: key.publicKey,
      agree: (peer) => x25519WithKeyObject(key.privateKey, peer),
      privateKey: () => x25519RawPrivate(key.privateKey),
    };
  }

  /** When the key `keyId` was retired (null while it is current; undefined if unknown). */
  retiredAt(keyId: string): number | null | undefined {
    return this.credentialKeys.find((k) => k.id === keyId)?.retiredAt;
  }

  resultSigningKey(): KeyObject {
    return this.resultKey.privateKey;
  }

  logSigningKey(): KeyObject {
    return this.logKey.privateKey;
  }

  logPublicKey(): Uint8Array {
    return this.logKey.publicKey;
  }

  bind(fields: BindingFields): Uint8Array {
    const mac = createHmac('sha256', this.bindingKey);
    mac.update(BINDING_CONTEXT);
    mac.update(jcs(fields));
    return new Uint8Array(mac.digest());
  }

  verifyBinding(fields: BindingFields, binding: Uint8Array): boolean {
    const expected = this.bind(fields);
    return bytesEqual(expected, binding);
  }

  publicKeys(): PublicKeys {
    return {
      generation: this.generation,
      current_key_id: this.current().id,
      credential_keys: this.credentialKeys.map((k) => ({
        key_id: k.id,
        public_key: bytesToBase64(k.publicKey),
        created_at: k.createdAt,
        retired_at: k.retiredAt,
      })),
      signing_keys: {
        results: bytesToBase64(this.resultKey.publicKey),
        log: bytesToBase64(this.logKey.publicKey),
      },
    };
  }

  /** Plaintext keyring bytes, for sealing only (keyring-slot.ts). The caller wipes them. */
  serialize(): Uint8Array {
    const secrets: Uint8Array[] = [];
    const b64 = (bytes: Uint8Array) => {
      secrets.push(bytes);
      return bytesToBase64(bytes);
    };
    try {
      const data: KeyringData = {
        v: 1,
        generation: this.generation,
        credential_keys: this.credentialKeys.map((k) => ({
          private_key: b64(x25519RawPrivate(k.privateKey)),
          created_at: k.createdAt,
          retired_at: k.retiredAt,
        })),
        result_key: b64(ed25519RawSeed(this.resultKey.privateKey)),
        log_key: b64(ed25519RawSeed(this.logKey.privateKey)),
        binding_key: bytesToBase64(this.bindingKey),
      };
      return utf8.encode(JSON.stringify(data));
    } finally {
      for (const s of secrets) s.fill(0);
    }
  }

  static deserialize(bytes: Uint8Array): Keyring {
    const data = KeyringDataSchema.parse(JSON.parse(utf8.decode(bytes)));
    const credentialKeys = data.credential_keys.map((k) => {
      const raw = base64ToBytes(k.private_key);
      try {
        return credentialKeyFrom(x25519PrivateKeyObject(raw), k.created_at, k.retired_at);
      } finally {
        raw.fill(0);
      }
    });
    return new Keyring(
      data.generation,
      credentialKeys,
      signingKeyFrom(base64ToBytes(data.result_key)),
      signingKeyFrom(base64ToBytes(data.log_key)),
      base64ToBytes(data.binding_key),
    );
  }

  /** Best effort: JS cannot wipe KeyObjects, but the HMAC key is ours to zero. */
  wipe(): void {
    this.bindingKey.fill(0);
  }
}

function credentialKeyFrom(
  privateKey: KeyObject,
  createdAt: number,
  retiredAt: number | null,
): CredentialKey {
  const publicKey = x25519RawPublic(privateKey);
  return { id: okpThumbprint('X25519', publicKey), privateKey, publicKey, createdAt, retiredAt };
}

function newCredentialKey(now: number): CredentialKey {
  return credentialKeyFrom(generateKeyPairSync('x25519').privateKey, now, null);
}

function signingKeyFrom(seed: Uint8Array): SigningKey {
  try {
    const privateKey = ed25519PrivateKeyObject(seed);
    return { privateKey, publicKey: ed25519RawPublic(privateKey) };
  } finally {
    seed.fill(0);
  }
}

function newSigningKey(): SigningKey {
  const privateKey = generateKeyPairSync('ed25519').privateKey;
  return { privateKey, publicKey: ed25519RawPublic(privateKey) };
}
