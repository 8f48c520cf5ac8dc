/**
 * Refresh tokens, sealed retry responses and sealed password hashes (docs/protocol/auth.md).
 *
 * - Refresh token: `rt1.<b64url 16-byte id>.<exp>.<b64url HMAC-SHA256>` with the MAC over
 *   "cloister/refresh/v1\n" ‖ sub ‖ "\n" ‖ sid ‖ "\n" ‖ rid ‖ "\n" ‖ exp under the refresh key.
 *   Opaque to clients; the host stores only its SHA-256 and cannot make one for any user or
 *   session, so it cannot have the enclave sign tokens without a token the enclave issued.
 * - Sealed response: the pair a refresh answered, AES-256-GCM under the response key with the
 *   SHA-256 of the refresh token it answered as associated data; only that token opens it.
 * - Sealed password hash: `ph1.` ‖ base64(nonce ‖ AES-256-GCM(PHC string)) under
 *   HKDF-SHA256(platform sealing key, salt "cloister/auth/password-seal/v1", info user id), with
 *   the user id as associated data too, so a blob cannot be moved to another account.
 */
import { createHmac, hash, hkdfSync } from 'node:crypto';
import { z } from 'zod';
import { base64ToBytes, bytesEqual, bytesToBase64, utf8 } from '../../protocol/encoding.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';
import { gcmOpen, gcmSeal } from '../crypto/gcm.js';
import { nodePrimitives } from '../crypto/node-primitives.js';
import type { Platform } from '../platform/platform.js';

export interface RefreshClaims {
  sub: string;
  sid: string;
  rid: string;
  exp: number;
}

/**
 * The MAC input is one line per field in a fixed order. Unambiguous without a canonical JSON
 * encoder (which cost as much as the HMAC itself): sub and sid are UUIDs, rid is base64url, exp
 * digits, and none of them can contain a newline (the RPC schema checks the token's shape).
 */
function refreshMac(key: Uint8Array, c: RefreshClaims): Buffer {
  return createHmac('sha256', key)
    .update(`cloister/refresh/v1\n${c.sub}\n${c.sid}\n${c.rid}\n${c.exp}`)
    .digest();
}

export function makeRefreshToken(key: Uint8Array, sub: string, sid: string, exp: number): string {
  const rid = Buffer.from(nodePrimitives.randomBytes(16)).toString('base64url');
  const mac = refreshMac(key, { sub, sid, rid, exp });
  return `rt1.${rid}.${exp}.${mac.toString('base64url')}`;
}

/** Checks the MAC (constant time) and the expiry; throws AUTH_REFRESH_INVALID otherwise. */
export function checkRefreshToken(
  key: Uint8Array,
  token: string,
  sub: string,
  sid: string,
  now: number,
): void {
  const [, rid, expText, macText] = token.split('.');
  const exp = Number(expText);
  // The RPC schema has checked the token's shape (43 base64url characters for the MAC).
  const given = Buffer.from(macText ?? '', 'base64url');
  const expected = refreshMac(key, { sub, sid, rid: rid ?? '', exp });
  if (
    !bytesEqual(given, expected) ||
    String(exp) !== expText || // one spelling per token (no leading zeros)
    exp <= now
  )
    throw new RpcError('AUTH_REFRESH_INVALID');
}

/**
 * Node's one-shot `hash` (no Hash object in between: ~0.3 µs against ~0.7 for
 * `createHash().update().digest()`, twice per refresh). A token is ASCII (its schema and
 * makeRefreshToken), so its UTF-8 bytes are its ASCII bytes.
 */
export function refreshTokenHash(token: string): string {
  return hash('sha256', token, 'hex');
}

const ResponseSchema = z
  .object({
    access_token: z.string(),
    access_expires_at: z.number().int(),
    refresh_token: z.string(),
    refresh_expires_at: z.number().int(),
    issued_at: z.number().int(),
  })
  .strict();
export type SealedResponse = z.infer<typeof ResponseSchema>;

const responseAad = (parentHash: string) =>
  utf8.encode(`cloister/refresh-response/v1\n${parentHash}`);

export function sealResponse(key: Uint8Array, parentHash: string, r: SealedResponse): string {
  const pt = Buffer.from(JSON.stringify(r), 'utf8');
  try {
    return bytesToBase64(gcmSeal(key, pt, responseAad(parentHash)));
  } finally {
    pt.fill(0);
  }
}

export function openResponse(key: Uint8Array, parentHash: string, sealed: string): SealedResponse {
  try {
    const pt = gcmOpen(key, Buffer.from(sealed, 'base64'), responseAad(parentHash));
    try {
      return ResponseSchema.parse(JSON.parse(utf8.decode(pt)));
    } finally {
      pt.fill(0);
    }
  } catch {
    throw new RpcError('AUTH_REFRESH_INVALID');
  }
}

/**
 * Where the password-sealing root comes from: the platform sealing key on a single machine; in
 * a cluster, the copy of the genesis machine's key carried under the cluster root
 * (enclave/cluster/), so every member opens the same password hashes.
 */
export type PasswordKeySource = Pick<Platform, 'sealingKey'>;

function passwordKey(platform: PasswordKeySource, policy: SealPolicy, userId: string): Uint8Array {
  const root = platform.sealingKey(policy);
  try {
    return new Uint8Array(
      hkdfSync('sha256', root, 'cloister/auth/password-seal/v1', utf8.encode(userId), 32),
    );
  } finally {
    root.fill(0);
  }
}

/**
 * The associated data of a sealed password hash. `pendingRecovery` (a recovery id) seals the
 * new password of a time-locked account recovery: the same key, another associated data, so the
 * blob does not open as the account's password until auth.recovery_complete re-seals it.
 */
const passwordAad = (userId: string, pendingRecovery?: string) =>
  utf8.encode(
    pendingRecovery === undefined
      ? `cloister/auth/password/v1\n${userId}`
      : `cloister/auth/recovery-password/v1\n${userId}\n${pendingRecovery}`,
  );

export function sealPasswordHash(
  platform: PasswordKeySource,
  policy: SealPolicy,
  userId: string,
  phc: string,
  pendingRecovery?: string,
): string {
  const key = passwordKey(platform, policy, userId);
  try {
    const aad = passwordAad(userId, pendingRecovery);
    return `ph1.${bytesToBase64(gcmSeal(key, utf8.encode(phc), aad))}`;
  } finally {
    key.fill(0);
  }
}

/** The PHC string, or null when the blob does not open for this user on this enclave. */
export function unsealPasswordHash(
  platform: PasswordKeySource,
  policy: SealPolicy,
  userId: string,
  sealed: string,
  pendingRecovery?: string,
): string | null {
  const key = passwordKey(platform, policy, userId);
  try {
    const pt = gcmOpen(key, base64ToBytes(sealed.slice(4)), passwordAad(userId, pendingRecovery));
    try {
      return utf8.decode(pt);
    } finally {
      pt.fill(0);
    }
  } catch {
    return null;
  } finally {
    key.fill(0);
  }
}
