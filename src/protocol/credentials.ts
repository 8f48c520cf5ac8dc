/**
 * What a credential envelope carries once opened, and the session metadata that travels with
 * it. The field names are the seed's (`exchange`, `apiKey`, `apiSecret`, `passphrase`) plus
 * `issued_at` (integer seconds since the Unix epoch), per ARCHITECTURE.md "Credential envelope v1".
 */
import { z } from 'zod';
import { hexBytes } from './encoding.js';

/** Exchanges the service accepts credentials for. */
export const EXCHANGES = ['binance', 'bybit', 'okx', 'coinbase'] as const;
export type Exchange = (typeof EXCHANGES)[number];
export const ExchangeSchema = z.enum(EXCHANGES);

/** Labels are shown to operators, so they are plain, short and printable. */
export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
export const LabelSchema = z.string().regex(LABEL_RE, {
  message: 'label: 1-64 chars of letters, digits, space, "_", "." or "-", starting alphanumeric',
});

/** The shortest TTL a session may ask for (the longest is a deployment setting). */
export const MIN_TTL_SECONDS = 300;

export const SessionMetadataSchema = z
  .object({
    exchange: ExchangeSchema,
    label: LabelSchema,
    ttl: z.number().int().min(MIN_TTL_SECONDS),
  })
  .strict();
export type SessionMetadata = z.infer<typeof SessionMetadataSchema>;

/** Upper bound on an opened envelope (the JSON below is a few hundred bytes in practice). */
export const MAX_CREDENTIAL_PLAINTEXT_BYTES = 4096;

export const CredentialPlaintextSchema = z
  .object({
    exchange: ExchangeSchema,
    apiKey: z.string().min(1).max(512),
    apiSecret: z.string().min(1).max(2048),
    passphrase: z.string().min(1).max(256).optional(),
    issued_at: z.number().int().nonnegative(),
    /**
     * The session lifetime the client asks for (its `metadata.ttl`), sealed so that the host
     * cannot have a longer one bound: the enclave binds at most this. Optional (older clients).
     */
    ttl: z.number().int().min(MIN_TTL_SECONDS).optional(),
    /**
     * The session label the client sends as `metadata.label`, sealed so that the host cannot
     * relabel the session at submission: the enclave refuses another. Optional.
     */
    label: LabelSchema.optional(),
    /**
     * The aggregates subject of the account that submits (`aggregatesSubject({ userId })`),
     * sealed so that a signed result over this credential can name no other user: the enclave
     * refuses to start a job for another subject. Optional.
     */
    subject: hexBytes(32).optional(),
  })
  .strict();
export type CredentialPlaintext = z.infer<typeof CredentialPlaintextSchema>;
