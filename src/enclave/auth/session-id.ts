/**
 * Login session ids carry their sign-in time (docs/protocol/auth.md, "Session lifetime").
 *
 * A session id is an RFC 9562 UUID version 7 whose 48-bit timestamp is the enclave's clock at
 * sign-in (whole seconds, as milliseconds). The id is already under every artefact the enclave
 * authenticates for a session: the refresh token's MAC and the access token's signature
 * (`sid`). So the session's start, and with AUTH_SESSION_MAX_AGE_SECONDS its absolute end, is
 * read from what the enclave checks anyway: a host that edits its rows cannot move it, and a
 * refresh or step-up costs a parse and a comparison, no lookup and no new token field.
 */
import { nodePrimitives } from '../crypto/node-primitives.js';

/** A new session id for a sign-in at `nowSeconds` (the rest is 74 random bits). */
export function newSessionId(nowSeconds: number): string {
  const b = nodePrimitives.randomBytes(16);
  let ms = nowSeconds * 1000;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = 0x70 | (b[6]! & 0x0f); // version 7
  b[8] = 0x80 | (b[8]! & 0x3f); // RFC 9562 variant
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * When the session `sid` ends: its sign-in time plus `maxAgeSeconds`. An id that carries no
 * time (version 4, made before sessions had an end) has already ended: its start is unknown,
 * and treating it as new would let it live forever.
 */
export function sessionEnd(sid: string, maxAgeSeconds: number): number {
  if (sid[14] !== '7') return 0;
  const ms = parseInt(sid.slice(0, 8) + sid.slice(9, 13), 16);
  return Number.isSafeInteger(ms) ? Math.floor(ms / 1000) + maxAgeSeconds : 0;
}
