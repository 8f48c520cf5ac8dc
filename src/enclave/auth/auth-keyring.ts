/**
 * The auth keyring (docs/protocol/auth.md, "Keys"): ES256 (P-256) JWT signing keys, an HMAC key
 * for refresh tokens, an AES key for the sealed grace-window responses and a binding key (the
 * root of the MACs and seals over stored login methods: method bindings, TOTP secrets, recovery
 * codes, passkeys). Every one of them travels with this keyring, so a cluster member (or a
 * restored instance) holding it verifies what another member bound. It is the `auth` row
 * of the keyring purposes (keyring/purposes.ts): sealed on its own (a separate blob and
 * generation from the credential keyring, so keyrings sealed before auth existed stay loadable
 * unchanged) through the same lifecycle and sealer.
 *
 * Rollover (seed 000, "Key Rollover"): `rotated()` adds a key that is published at once but
 * signs only from `active_from = now + prepublish`; the key it replaces stops signing then and
 * stays published for twice the access-token lifetime, after which `jwks()` no longer lists it
 * and the next rotation drops it. Private keys never leave this object except sealed.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { z } from 'zod';
import { ecThumbprint, type Es256PublicJwk } from '../../protocol/auth.js';
import { base64ToBytes, bytesToBase64, bytesToBase64url, utf8 } from '../../protocol/encoding.js';
import { rawP256Private, rawP256Public } from '../crypto/der.js';
import { rotateKeys } from '../keyring/generations.js';

const Seconds = z.number().int().nonnegative();
const B64u32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);

const AuthKeyringDataSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('auth'),
    generation: z.number().int().positive(),
    signing_keys: z
      .array(
        z
          .object({
            d: B64u32,
            x: B64u32,
            y: B64u32,
            created_at: Seconds,
            active_from: Seconds,
            retired_at: Seconds.nullable(),
          })
          .strict(),
      )
      .min(1)
      .max(32),
    refresh_key: z.string().min(40).max(48),
    response_key: z.string().min(40).max(48),
    // Absent in keyrings sealed before login methods existed: derived then (bindingKeyOf).
    binding_key: z.string().min(40).max(48).optional(),
  })
  .strict();

export interface JwtKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly x: string;
  readonly y: string;
  readonly createdAt: number;
  readonly activeFrom: number;
  readonly retiredAt: number | null;
}

export class AuthKeyring {
  private constructor(
    readonly generation: number,
    private readonly keys: readonly JwtKey[],
    /** HMAC-SHA256 key authenticating refresh tokens. */
    readonly refreshKey: Uint8Array,
    /** AES-256-GCM key sealing the response a grace-window retry returns. */
    readonly responseKey: Uint8Array,
    /** Root of the login-method MACs and seals (auth/method-binding.ts). */
    readonly bindingKey: Uint8Array,
  ) {}

  static generate(now: number): AuthKeyring {
    return new AuthKeyring(
      1,
      [newJwtKey(now, now)],
      new Uint8Array(randomBytes(32)),
      new Uint8Array(randomBytes(32)),
      new Uint8Array(randomBytes(32)),
    );
  }

  rotated(now: number, prepublishSeconds: number, retentionSeconds: number): AuthKeyring {
    const activeFrom = now + prepublishSeconds;
    return new AuthKeyring(
      this.generation + 1,
      rotateKeys(this.keys, newJwtKey(now, activeFrom), {
        now,
        retireAt: activeFrom,
        retentionSeconds,
      }),
      this.refreshKey,
      this.responseKey,
      this.bindingKey,
    );
  }

  /** The key that signs at `now`: the newest one already active and not yet retired. */
  signingKey(now: number): JwtKey {
    const usable = this.keys.filter(
      (k) => k.activeFrom <= now && (k.retiredAt === null || k.retiredAt > now),
    );
    const key = usable.sort((a, b) => b.activeFrom - a.activeFrom)[0];
    if (!key) throw new Error('no active signing key');
    return key;
  }

  /** Every key a verifier may meet: not yet signing, signing, or retired within retention. */
  jwks(now: number, retentionSeconds: number): Es256PublicJwk[] {
    return this.keys
      .filter((k) => k.retiredAt === null || k.retiredAt + retentionSeconds > now)
      .map((k) => ({
        kty: 'EC',
        crv: 'P-256',
        x: k.x,
        y: k.y,
        kid: k.kid,
        use: 'sig',
        alg: 'ES256',
      }));
  }

  /** The key with this kid, while it is still published (for the enclave's own token checks). */
  publishedKey(kid: string, now: number, retentionSeconds: number): JwtKey | null {
    const published = new Set(this.jwks(now, retentionSeconds).map((k) => k.kid));
    return published.has(kid) ? (this.keys.find((k) => k.kid === kid) ?? null) : null;
  }

  newestKid(): string {
    return this.keys[this.keys.length - 1]!.kid;
  }

  /** Plaintext keyring bytes, for sealing only. The caller wipes them. */
  serialize(): Uint8Array {
    const data: z.infer<typeof AuthKeyringDataSchema> = {
      v: 1,
      kind: 'auth',
      generation: this.generation,
      signing_keys: this.keys.map((k) => ({
        d: rawBase64url(rawP256Private(k.privateKey)),
        x: k.x,
        y: k.y,
        created_at: k.createdAt,
        active_from: k.activeFrom,
        retired_at: k.retiredAt,
      })),
      refresh_key: bytesToBase64(this.refreshKey),
      response_key: bytesToBase64(this.responseKey),
      binding_key: bytesToBase64(this.bindingKey),
    };
    return utf8.encode(JSON.stringify(data));
  }

  static deserialize(bytes: Uint8Array): AuthKeyring {
    const data = AuthKeyringDataSchema.parse(JSON.parse(utf8.decode(bytes)));
    const keys = data.signing_keys.map((k) =>
      jwtKeyFrom(
        createPrivateKey({
          key: { kty: 'EC', crv: 'P-256', d: k.d, x: k.x, y: k.y },
          format: 'jwk',
        }),
        k.created_at,
        k.active_from,
        k.retired_at,
      ),
    );
    const refreshKey = base64ToBytes(data.refresh_key);
    const responseKey = base64ToBytes(data.response_key);
    const bindingKey =
      data.binding_key !== undefined ? base64ToBytes(data.binding_key) : bindingKeyOf(refreshKey);
    if (refreshKey.length !== 32 || responseKey.length !== 32 || bindingKey.length !== 32)
      throw new Error('bad auth keyring');
    return new AuthKeyring(data.generation, keys, refreshKey, responseKey, bindingKey);
  }
}

/**
 * The binding key of a keyring sealed before it had one: HKDF-SHA256 of its refresh key (salt
 * `cloister/auth/binding-key/v1`). Deterministic, so every instance holding that keyring derives
 * the same key; the next seal writes it out as `binding_key`.
 */
function bindingKeyOf(refreshKey: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', refreshKey, 'cloister/auth/binding-key/v1', '', 32));
}

function jwtKeyFrom(
  privateKey: KeyObject,
  createdAt: number,
  activeFrom: number,
  retiredAt: number | null,
): JwtKey {
  const xy = rawP256Public(createPublicKey(privateKey));
  const x = bytesToBase64url(xy.subarray(0, 32));
  const y = bytesToBase64url(xy.subarray(32));
  return { kid: ecThumbprint(x, y), privateKey, x, y, createdAt, activeFrom, retiredAt };
}

function newJwtKey(now: number, activeFrom: number): JwtKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return jwtKeyFrom(privateKey, now, activeFrom, null);
}

/** base64url of raw key bytes, which are wiped (the string cannot be). */
function rawBase64url(raw: Uint8Array): string {
  try {
    return bytesToBase64url(raw);
  } finally {
    raw.fill(0);
  }
}
