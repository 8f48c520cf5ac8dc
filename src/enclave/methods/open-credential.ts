/**
 * Opening a credential envelope inside the enclave: decrypt, parse the credential JSON, check
 * it, hand it to `use`, and wipe the plaintext bytes whatever happens. Every method that touches
 * a credential goes through here, so there is one place where plaintext exists.
 */
import {
  CredentialPlaintextSchema,
  MAX_CREDENTIAL_PLAINTEXT_BYTES,
  type CredentialPlaintext,
} from '../../protocol/credentials.js';
import { utf8 } from '../../protocol/encoding.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import type { X25519Recipient } from '../../protocol/envelope/primitives.js';
import { resolveEnvelopeKind, type CredentialEnvelope } from '../../protocol/envelope/registry.js';
import { nodePrimitives } from '../crypto/node-primitives.js';

export async function withOpenedCredential<T>(
  recipient: X25519Recipient,
  envelope: CredentialEnvelope,
  use: (credential: CredentialPlaintext) => T,
): Promise<T> {
  const plaintext = await resolveEnvelopeKind(envelope).open(nodePrimitives, recipient, envelope);
  try {
    if (plaintext.length > MAX_CREDENTIAL_PLAINTEXT_BYTES)
      throw new EnvelopeError('ENVELOPE_INVALID');
    let credential: CredentialPlaintext;
    try {
      // JSON.parse error messages quote the input: never let one escape.
      credential = CredentialPlaintextSchema.parse(JSON.parse(utf8.decode(plaintext)));
    } catch {
      throw new EnvelopeError('ENVELOPE_INVALID');
    }
    return use(credential);
  } finally {
    plaintext.fill(0);
  }
}
