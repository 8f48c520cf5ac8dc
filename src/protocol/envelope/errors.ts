/**
 * Why an envelope was refused. Codes are part of the RPC wire contract (protocol/rpc/errors.ts)
 * and reach HTTP clients; messages are fixed so that a failure is never a decryption oracle and
 * never echoes input.
 */
export type EnvelopeErrorCode =
  | 'ENVELOPE_INVALID'
  | 'ENVELOPE_REPLAYED'
  | 'ENVELOPE_STALE'
  | 'ENVELOPE_BEFORE_START'
  | 'ENVELOPE_EXCHANGE_MISMATCH'
  | 'ENVELOPE_LABEL_MISMATCH'
  | 'ENVELOPE_UNKNOWN_KEY'
  | 'ENVELOPE_UNSUPPORTED_ALG';

export class EnvelopeError extends Error {
  readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode) {
    super(ENVELOPE_ERROR_MESSAGES[code]);
    this.name = 'EnvelopeError';
    this.code = code;
  }
}

export const ENVELOPE_ERROR_MESSAGES: Record<EnvelopeErrorCode, string> = {
  ENVELOPE_INVALID: 'the envelope could not be opened',
  ENVELOPE_REPLAYED: 'this envelope was already submitted; encrypt the credentials again',
  ENVELOPE_STALE: 'issued_at is outside the accepted window; encrypt the credentials again',
  ENVELOPE_BEFORE_START: 'issued_at is earlier than this enclave accepts; encrypt again',
  ENVELOPE_EXCHANGE_MISMATCH: 'the exchange inside the envelope differs from the metadata',
  ENVELOPE_LABEL_MISMATCH: 'the label inside the envelope differs from the metadata',
  ENVELOPE_UNKNOWN_KEY: 'key_id names no enclave key that is still accepted',
  ENVELOPE_UNSUPPORTED_ALG: 'unsupported envelope algorithm',
};
