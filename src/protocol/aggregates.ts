/**
 * Signed performance aggregates, `cloister/aggregates/v3` (and v2, v1, still verified)
 * (docs/protocol/signed-aggregates.md): the payload schemas, the signing input (UTF-8
 * "<version>\n" ‖ JCS(payload)), its digest (what the transparency log entry of a result
 * carries) and that log entry; the v2 bindings (exchange-account commitment, subject, audience
 * and nonce); the v3 daily series; the window rule. The one implementation for enclave (signer), host (storage) and
 * client (verifier). Pure, no `node:`.
 *
 * The figures' meaning is docs/aggregates.md; the engine that computes them is
 * src/enclave/aggregates/engine.ts.
 */
import { sha256 } from './sha256.js';
import { z } from 'zod';
import { ExchangeSchema } from './credentials.js';
import { addDecimals, DecimalStringSchema, plainDecimal } from './decimal-string.js';
import { base64Bytes, bytesToHex, concatBytes, hexBytes, utf8 } from './encoding.js';
import { jcs } from './jcs.js';
import { KeyIdSchema } from './key-id.js';

/** The version the enclave signs now. */
export const AGGREGATES_VERSION = 'cloister/aggregates/v3';
/** v2: the bindings without the daily series (still verified). */
export const AGGREGATES_VERSION_V2 = 'cloister/aggregates/v2';
export const AGGREGATES_VERSION_V1 = 'cloister/aggregates/v1';
/**
 * Domain separation: the signature can never be mistaken for one over other Cloister data, nor
 * a payload of one version for another (the signing input starts with the payload's own version).
 */
export const AGGREGATES_SIGNING_CONTEXT = `${AGGREGATES_VERSION}\n`;

export const DAY_MS = 86_400_000;
/** UTC days that intersect [from, to) (ms): a partial first or last day counts as a whole day. */
export function windowDays(from: number, to: number): number {
  if (to <= from) return 0;
  return Math.floor((to - 1) / DAY_MS) - Math.floor(from / DAY_MS) + 1;
}
/** Most rows a v3 daily series may have (the engine's longest window, a little over 100 years). */
export const MAX_DAILY_ROWS = 36_600;

/** Clock skew tolerated on a client's `to`. */
export const AGGREGATES_FUTURE_SKEW_MS = 60_000;

/**
 * The window rule, for host (before any work), enclave (before opening the key) and engine
 * alike: `from < to`, `to` no later than now (plus skew), at most `maxWindowDays` long, and
 * `from` not before the epoch. `from: null` is `to` minus the longest window. Null if refused.
 */
export function aggregatesWindow(
  req: { from: number | null; to: number },
  nowMs: number,
  maxWindowDays: number,
): { from: number; to: number } | null {
  const maxMs = maxWindowDays * DAY_MS;
  const from = req.from ?? req.to - maxMs;
  if (!Number.isFinite(req.to) || !Number.isFinite(from)) return null;
  if (req.to > nowMs + AGGREGATES_FUTURE_SKEW_MS) return null;
  if (from >= req.to || req.to - from > maxMs) return null;
  if (req.from !== null && req.from < 0) return null;
  return { from, to: req.to };
}

/**
 * Who a verifier may ask for a result addressed to it: `audience` names the verifier (a host
 * name, a URL, an app id), `nonce` is its fresh challenge. Both are echoed in the v2 payload.
 */
export const AudienceSchema = z
  .string()
  .regex(/^[A-Za-z0-9._~:/@+-]{1,200}$/, { message: 'audience: 1-200 URL-safe characters' });
export const AggregatesNonceSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,128}$/, { message: 'nonce: 16-128 base64url characters' });
/** The exchange's own account/user id as its API reports it (digits, a UUID, …). */
export const ExchangeAccountIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
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

/** What v2 adds: whose account, for whom, addressed to whom, and whether every symbol is in. */
export const AggregatesBindingSchema = z
  .object({
    /**
     * `accountCommitment(salt, exchange, account id)`: the exchange's own account id, read by
     * the enclave from the exchange's API, hidden under a 32-byte salt given to the holder only.
     */
    account_commitment: hexBytes(32),
    /** `aggregatesSubject(...)`: the Cloister user (or, without one, the session) that asked. */
    subject: hexBytes(32),
    audience: AudienceSchema.nullable(),
    nonce: AggregatesNonceSchema.nullable(),
    /**
     * True when the scan covered every spot symbol the account traded in the window (an
     * account-wide listing); false when only `symbols_scanned` were read.
     */
    symbols_complete: z.boolean(),
  })
  .strict();

const fromNotAfterTo = { message: 'from must not be after to', path: ['to'] };

export const AggregatesPayloadV1Schema = z
  .object({
    version: z.literal(AGGREGATES_VERSION_V1),
    ...AggregateFiguresSchema.shape,
    ...AggregatesContextSchema.shape,
  })
  .strict()
  .refine((p) => p.from <= p.to, fromNotAfterTo);
export type AggregatesPayloadV1 = z.infer<typeof AggregatesPayloadV1Schema>;

export const AggregatesPayloadV2Schema = z
  .object({
    version: z.literal(AGGREGATES_VERSION_V2),
    ...AggregateFiguresSchema.shape,
    ...AggregatesContextSchema.shape,
    ...AggregatesBindingSchema.shape,
  })
  .strict()
  .refine((p) => p.from <= p.to, fromNotAfterTo);
export type AggregatesPayloadV2 = z.infer<typeof AggregatesPayloadV2Schema>;

/**
 * One UTC day of the v3 daily series: its realized PnL and the cumulative realized PnL at its
 * end, in the reporting currency, as exact decimal strings.
 */
export const DailyRowSchema = z
  .object({
    /** The UTC day, `YYYY-MM-DD`. */
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    pnl: DecimalStringSchema,
    cumulative: DecimalStringSchema,
  })
  .strict();
export type DailyRow = z.infer<typeof DailyRowSchema>;

/** `YYYY-MM-DD` of the UTC day number `day` (days since the epoch). */
export function utcDayName(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Why a v3 daily series does not fit its payload, or null: one row per UTC day intersecting
 * [from, to), in order; each `cumulative` is the previous one (0 before the first day) plus
 * that day's `pnl`, exactly; the last `cumulative` is exactly the payload's `pnl`.
 */
export function dailySeriesProblem(p: {
  from: string;
  to: string;
  pnl: number;
  daily: readonly DailyRow[];
}): string | null {
  const from = Date.parse(p.from);
  const n = windowDays(from, Date.parse(p.to));
  if (p.daily.length !== n) return 'must have one row per UTC day of the window';
  const day0 = Math.floor(from / DAY_MS);
  let cumulative = '0';
  for (let d = 0; d < n; d++) {
    const row = p.daily[d]!;
    if (row.day !== utcDayName(day0 + d)) return "days must be the window's UTC days, in order";
    cumulative = addDecimals(cumulative, row.pnl);
    if (row.cumulative !== cumulative) return 'cumulative must be the running sum of pnl';
  }
  if (cumulative !== plainDecimal(p.pnl)) return 'the daily pnl must sum to pnl exactly';
  return null;
}

export const AggregatesPayloadV3Schema = z
  .object({
    version: z.literal(AGGREGATES_VERSION),
    ...AggregateFiguresSchema.shape,
    ...AggregatesContextSchema.shape,
    ...AggregatesBindingSchema.shape,
    /** Per UTC day of the window: realized PnL and cumulative realized PnL (v3). */
    daily: z.array(DailyRowSchema).max(MAX_DAILY_ROWS),
  })
  .strict()
  .refine((p) => p.from <= p.to, fromNotAfterTo)
  .superRefine((p, ctx) => {
    if (p.from > p.to) return;
    const problem = dailySeriesProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['daily'] });
  });
export type AggregatesPayloadV3 = z.infer<typeof AggregatesPayloadV3Schema>;

/** Any version: v1 and v2 results signed before v3 still verify. */
export const AggregatesPayloadSchema = z.union([
  AggregatesPayloadV3Schema,
  AggregatesPayloadV2Schema,
  AggregatesPayloadV1Schema,
]);
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
  return concatBytes(utf8.encode(`${parsed.version}\n`), utf8.encode(jcs(parsed)));
}

const ACCOUNT_CONTEXT = 'cloister/aggregates/account/v1\n';
const SUBJECT_CONTEXT = 'cloister/aggregates/subject/v1\n';

/**
 * Hex SHA-256("cloister/aggregates/account/v1\n" ‖ salt ‖ exchange ‖ "\n" ‖ account id). The
 * salt (32 random bytes) makes the commitment hiding: without it, a guessable id (Binance uids
 * are numbers) cannot be tested against the public payload.
 */
export function accountCommitment(salt: Uint8Array, exchange: string, accountId: string): string {
  if (salt.length !== 32) throw new RangeError('salt: 32 bytes');
  ExchangeSchema.parse(exchange);
  ExchangeAccountIdSchema.parse(accountId);
  return bytesToHex(
    sha256(
      concatBytes(utf8.encode(ACCOUNT_CONTEXT), salt, utf8.encode(`${exchange}\n${accountId}`)),
    ),
  );
}

/**
 * The payload's `subject`: hex SHA-256 of a domain-separated `user:<id>` (the Cloister user
 * that owns the session), or `session:<id>` for a session without an owner (development
 * mode). The holder shows a verifier its id to prove the result was made for it.
 */
export function aggregatesSubject(owner: { userId: string } | { sessionId: string }): string {
  const name =
    'userId' in owner ? `user:${owner.userId}` : `session:${owner.sessionId.toLowerCase()}`;
  return bytesToHex(sha256(utf8.encode(`${SUBJECT_CONTEXT}${name}`)));
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
