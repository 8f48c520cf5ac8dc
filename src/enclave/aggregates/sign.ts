/**
 * Signs an aggregates payload with the enclave's Ed25519 result key
 * (docs/protocol/signed-aggregates.md): the payload is parsed by the schema first, and the
 * signature covers "cloister/aggregates/v1\n" ‖ JCS(parsed payload), never bytes from elsewhere.
 */
import { sign, type KeyObject } from 'node:crypto';
import {
  aggregatesSigningInput,
  AggregatesPayloadSchema,
  type SignedAggregates,
} from '../../protocol/aggregates.js';
import { bytesToBase64 } from '../../protocol/encoding.js';

/**
 * `signingKey` is the keyring's result key (`Keyring.resultSigningKey()`). Throws a ZodError if
 * the payload does not match the schema (a bug: the enclave builds it), so nothing unsigned
 * or malformed can leave as a result.
 */
export function signAggregates(payload: unknown, signingKey: KeyObject): SignedAggregates {
  if (signingKey.type !== 'private' || signingKey.asymmetricKeyType !== 'ed25519')
    throw new TypeError('signingKey must be an Ed25519 private key');
  const parsed = AggregatesPayloadSchema.parse(payload);
  const signature = sign(null, aggregatesSigningInput(parsed), signingKey);
  return { payload: parsed, signature: bytesToBase64(new Uint8Array(signature)) };
}
