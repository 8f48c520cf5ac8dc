/**
 * Signed performance aggregates, `cloister/aggregates/v1` (docs/protocol/signed-aggregates.md):
 * the payload schema, the signing input (UTF-8 "cloister/aggregates/v1\n" ‖ JCS(payload)), its
 * digest (what the transparency log entry of a result carries) and that log entry. The one
 * implementation for enclave (signer), host (storage) and client (verifier). Pure, no `node:`.
 *
 * The figures' meaning is docs/aggregates.md; the engine that computes them is
 * src/enclave/aggregates/engine.ts.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { ExchangeSchema } from './credentials.js';
import { base64Bytes, bytesToHex, concatBytes, hexBytes, utf8 } from './encoding.js';
import { jcs } from './jcs.js';
import { KeyIdSchema } from './key-id.js';

export const AGGREGATES_VERSION = 'cloister/aggregates/v1';
/** Domain separation: the signature can never be mistaken for one over other Cloister data. */
export const AGGREGATES_SIGNING_CONTEXT = `${AGGREGATES_VERSION}\n`;
/** The transparency-log entry type that records a signed result. */
export const AGGREGATES_LOG_ENTRY_TYPE = 'aggregates.signed';

/** A currency code as exchanges spell it (upper case; some tokens start with a digit). */
export const CurrencySchema = z.string().regex(/^[A-Z0-9]{1,20}$/, {
  message: 'currency: 1-20 upper-case letters or digits',
});
export const SymbolSchema = z.string().regex(/^[A-Z0-9]{1,20}\/[A-Z0-9]{1,20}$/, {
  message: 'symbol: BASE/QUOTE in upper case',
});

/** ISO 8601 UTC with milliseconds, exactly as `Date.prototype.toISOString` writes it. */
export const IsoUtcSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
  .refine((s) => {
    const t = Date.parse(s);
    return Number.isFinite(t) && new Date(t).toISOString() === s;
  }, 'must be a valid ISO 8601 UTC time (YYYY-MM-DDTHH:mm:ss.sssZ)');

/** A finite JSON number (zod rejects NaN and ±Infinity), never −0 (normalized by the engine). */
const Num = z.number().refine((n) => !Object.is(n, -0), 'must not be -0');
const NonNeg = Num.refine((n) => n >= 0, 'must be >= 0');
const Count = z.number().int().nonnegative();
const FeeMap = z.record(CurrencySchema, NonNeg);

export const QuoteFiguresSchema = z.object({ trades: Count, volume: NonNeg, pnl: Num }).strict();

export const SymbolFiguresSchema = z
  .object({
    trades: Count,
    /** Σ price × amount, in the symbol's quote currency. */
    volume: NonNeg,
    /** Realized PnL in the symbol's quote currency. */
    pnl: Num,
    fees: FeeMap,
    /** Open position at the end of the window in base units: > 0 long, < 0 short. */
    position: Num,
  })
  .strict();

/** What the engine computes (src/enclave/aggregates/engine.ts). */
export const AggregateFiguresSchema = z
  .object({
    from: IsoUtcSchema,
    to: IsoUtcSchema,
    reporting_currency: CurrencySchema,
    trades: Count,
    volume: NonNeg,
    pnl: Num,
    sharpe: Num.nullable(),
    max_drawdown: NonNeg,
    win_rate: Num.refine((n) => n >= 0 && n <= 1, 'must be in [0, 1]').nullable(),
    fees: FeeMap,
    fees_other: FeeMap,
    by_quote: z.record(CurrencySchema, QuoteFiguresSchema),
    symbols: z.record(SymbolSchema, SymbolFiguresSchema),
  })
  .strict();
export type AggregateFigures = z.infer<typeof AggregateFiguresSchema>;

/** Where the figures come from and who computed them (set by the enclave, not the engine). */
export const AggregatesContextSchema = z
  .object({
    exchange: ExchangeSchema,
    /** Host (and port, if not the default) of the exchange API the enclave spoke to. */
    api_host: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/),
    /** `sessionLogSubject(session id)`: the session's hash, never the id (a bearer capability). */
    session: hexBytes(32),
    /** The symbols actually scanned, sorted, unique. */
    symbols_scanned: z
      .array(SymbolSchema)
      .max(10_000)
      .refine((a) => a.every((s, i) => i === 0 || a[i - 1]! < s), 'must be sorted and unique'),
    computed_at: IsoUtcSchema,
    /** Hex SHA-256 over the raw bodies of every exchange response used, in request order. */
    responses_digest: hexBytes(32),
    /** The enclave measurement (hex; 32 bytes on SGX, 48 elsewhere), as in its attestation. */
    measurement: z.string().regex(/^(?:[0-9a-f]{64}|[0-9a-f]{96})$/),
    /** RFC 7638 thumbprint of the Ed25519 result-signing public key. */
    key_id: KeyIdSchema,
  })
  .strict();
export type AggregatesContext = z.infer<typeof AggregatesContextSchema>;

export const AggregatesPayloadSchema = z
  .object({
    version: z.literal(AGGREGATES_VERSION),
    ...AggregateFiguresSchema.shape,
    ...AggregatesContextSchema.shape,
  })
  .strict()
  .refine((p) => p.from <= p.to, { message: 'from must not be after to', path: ['to'] });
export type AggregatesPayload = z.infer<typeof AggregatesPayloadSchema>;

export const SignedAggregatesSchema = z
  .object({
    payload: AggregatesPayloadSchema,
    /** Ed25519 signature over `aggregatesSigningInput(payload)`, standard base64 (64 bytes). */
    signature: base64Bytes(64),
  })
  .strict();
export type SignedAggregates = z.infer<typeof SignedAggregatesSchema>;

/**
 * The bytes that are signed: UTF-8 of the context string followed by the RFC 8785 JSON of the
 * payload *as parsed by the schema* (so unknown members and non-canonical input never reach
 * the signature). Throws a ZodError if the payload does not match the schema.
 */
export function aggregatesSigningInput(payload: unknown): Uint8Array {
  const parsed = AggregatesPayloadSchema.parse(payload);
  return concatBytes(utf8.encode(AGGREGATES_SIGNING_CONTEXT), utf8.encode(jcs(parsed)));
}

/** Lower-case hex SHA-256 of the signing input: `digests.payload` of the result's log entry. */
export function aggregatesDigest(payload: unknown): string {
  return bytesToHex(sha256(aggregatesSigningInput(payload)));
}

/**
 * The log entry that records a signed result (a transparency-log entry, `v: 1`, of type
 * `aggregates.signed`): subject = the payload's session hash, digest = `aggregatesDigest`.
 */
export const AggregatesLogEntrySchema = z
  .object({
    v: z.literal(1),
    type: z.literal(AGGREGATES_LOG_ENTRY_TYPE),
    subject: hexBytes(32),
    time: z.number().int().nonnegative(),
    digests: z.object({ payload: hexBytes(32) }).strict(),
  })
  .strict();
export type AggregatesLogEntry = z.infer<typeof AggregatesLogEntrySchema>;

/** `time` (seconds) is the signing time; it defaults to `computed_at` in whole seconds. */
export function aggregatesLogEntry(payload: AggregatesPayload, time?: number): AggregatesLogEntry {
  return AggregatesLogEntrySchema.parse({
    v: 1,
    type: AGGREGATES_LOG_ENTRY_TYPE,
    subject: payload.session,
    time: time ?? Math.floor(Date.parse(payload.computed_at) / 1000),
    digests: { payload: aggregatesDigest(payload) },
  });
}
