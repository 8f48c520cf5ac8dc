/**
 * HTTP request and response schemas. Requests reuse the protocol's envelope and metadata
 * schemas (one definition per wire format); the host only adds its own TTL ceiling. Response
 * schemas are allow-lists: the serializer drops any field they do not name.
 */
import { z } from 'zod';
import { EnvelopeV1Schema } from '../../protocol/envelope/v1.js';
import { HpkeEnvelopeSchema } from '../../protocol/envelope/hpke.js';
import { SessionMetadataSchema, MIN_TTL_SECONDS } from '../../protocol/credentials.js';
import { KeyIdSchema } from '../../protocol/key-id.js';
import { AttestationNonceSchema } from '../../protocol/attestation/report-data.js';
import { AGGREGATES_MAX_SYMBOLS } from '../../protocol/rpc/methods.js';
import {
  AggregatesNonceSchema,
  AudienceSchema,
  CurrencySchema,
  SymbolSchema,
} from '../../protocol/aggregates.js';

/** Deeper than any WebAuthn JSON (its credentials nest 3 levels); see WebAuthnJsonSchema. */
export const WEBAUTHN_MAX_DEPTH = 16;

/** How deep `value` nests (a scalar is 0), walked without recursion, stopping past `max`. */
function depthOver(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/**
 * A WebAuthn response or assertion as the browser's JSON (the enclave checks its content). Its
 * nesting is bounded here: a body nested thousands deep passes JSON.parse and an open record, but
 * cannot be forwarded (JSON.stringify overflows), and is refused as a 400, not answered 500.
 */
export const WebAuthnJsonSchema = z
  .record(z.string(), z.unknown())
  .refine((v) => !depthOver(v, WEBAUTHN_MAX_DEPTH), `nested deeper than ${WEBAUTHN_MAX_DEPTH}`);

export function submitKeyBodySchema(maxTtlSeconds: number) {
  const metadata = SessionMetadataSchema.extend({
    ttl: z.number().int().min(MIN_TTL_SECONDS).max(maxTtlSeconds),
  }).strict();
  return z.union([
    EnvelopeV1Schema.extend({ metadata }).strict(),
    HpkeEnvelopeSchema.extend({ metadata }).strict(),
  ]);
}
export type SubmitKeyBody = z.infer<ReturnType<typeof submitKeyBodySchema>>;

export const SessionIdSchema = z.uuid();

/**
 * Where an operation's transparency-log entry sits: its leaf index and the signed checkpoint
 * (tree size and root) that already includes it. The proof is at `logs_url`.
 */
export const LogReceiptSchema = z.object({
  index: z.number().int().nonnegative(),
  tree_size: z.number().int().positive(),
  root_hash: z.base64(),
});

export const SubmitKeyResponseSchema = z.object({
  session_id: SessionIdSchema,
  key_id: KeyIdSchema,
  expires_at: z.iso.datetime(),
  log: LogReceiptSchema,
  merkle_root: z.base64(),
  logs_url: z.string(),
});

export const RevokeBodySchema = z.object({ session_id: SessionIdSchema }).strict();
export const RevokeResponseSchema = z.object({
  success: z.literal(true),
  message: z.string(),
  log: LogReceiptSchema,
  merkle_root: z.base64(),
  logs_url: z.string(),
});

export const SessionParamsSchema = z.object({ session_id: SessionIdSchema }).strict();
export const SessionStatusResponseSchema = z.object({
  session_id: SessionIdSchema,
  exchange: z.string(),
  label: z.string(),
  status: z.enum(['active', 'revoked', 'expired', 'invalid']),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime(),
  credential: z.enum(['ok', 'absent']),
});

export const OwnSessionsQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(500).default(100) })
  .strict();
export const OwnSessionsResponseSchema = z.object({
  sessions: z.array(SessionStatusResponseSchema.omit({ credential: true })),
});

export const QuoteQuerySchema = z.object({ nonce: AttestationNonceSchema.optional() }).strict();

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), issue: z.string() })).optional(),
    /** ENVELOPE_BEFORE_START: the earliest issued_at the enclave accepts (Unix seconds). */
    not_before: z.number().int().optional(),
  }),
});

export const RequestAggregatesBodySchema = z
  .object({
    session_id: SessionIdSchema,
    /** Window [from, to), ISO 8601 UTC. `to` defaults to now, `from` to the default look-back. */
    from: z.iso.datetime().optional(),
    to: z.iso.datetime().optional(),
    symbols: z.array(SymbolSchema).min(1).max(AGGREGATES_MAX_SYMBOLS).optional(),
    reporting_currency: CurrencySchema.optional(),
    /** A verifier's name and fresh challenge, echoed in the signed payload (v2). */
    audience: AudienceSchema.optional(),
    nonce: AggregatesNonceSchema.optional(),
  })
  .strict();

export const JobParamsSchema = z.object({ job_id: z.uuid() }).strict();

export const AggregatesDoneResponseSchema = z.object({
  status: z.literal('done'),
  job_id: z.uuid(),
  aggregates_signed: z.object({
    signature: z.base64(),
    payload: z.record(z.string(), z.unknown()),
  }),
  /** Opens `account_commitment` (owner only; docs/protocol/signed-aggregates.md). */
  account_opening: z.object({ salt: z.base64() }).optional(),
  merkle_root: z.base64(),
  log: LogReceiptSchema,
  logs_url: z.string(),
});

const JobProgressResponseSchema = z.object({
  requests: z.number().int(),
  fills: z.number().int(),
  /** Times the exchange said "too many requests" and the enclave waited; the total wait (ms). */
  rate_limit_waits: z.number().int(),
  rate_limit_wait_ms: z.number().int(),
});

export const AggregatesRunningResponseSchema = z.object({
  /** `queued`: admitted, waiting for an enclave slot; `running`: the enclave is fetching. */
  status: z.enum(['queued', 'running']),
  job_id: z.uuid(),
  progress: JobProgressResponseSchema,
  status_url: z.string(),
});

/** The session was revoked while the job ran: nothing was signed (410 Gone). */
export const AggregatesCancelledResponseSchema = z.object({
  status: z.literal('cancelled'),
  job_id: z.uuid(),
  progress: JobProgressResponseSchema,
});
