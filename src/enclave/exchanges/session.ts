/**
 * One listing's request loop, common to every exchange: charge the shared rate limiter, sign a
 * fresh request (timestamps change between attempts), send it through the injected transport,
 * read the weight headers, classify the answer with the exchange's profile, retry what may be
 * retried (5xx and network errors with bounded exponential backoff; 429/418 and the exchanges'
 * own "too many requests" after `Retry-After`, if that wait is short), and digest every response
 * body that was used.
 *
 * Response digest: SHA-256 over, for each used response in request order, its body's UTF-8
 * byte length as an 8-byte big-endian integer followed by the body bytes (the length prefix
 * makes the concatenation unambiguous).
 *
 * Exchange time: the `Date` header (RFC 9110 §6.6.1, IMF-fixdate; plus `Age` if a cache served
 * it) of the first response used, read over the same TLS as the body, so the host cannot set it
 * as it may set the enclave's clock. The aggregates job bounds the window it signs by it.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Exchange } from '../../protocol/credentials.js';
import { EgressError } from '../egress/errors.js';
import { ExchangeError } from './errors.js';
import type { Clock, LimiterPolicy, LimitObservation, RateLimiter } from './rate-limiter.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './types.js';

export type Verdict =
  | { kind: 'ok' }
  | { kind: 'key-rejected'; detail: string }
  /** `retryAfterMs` from the response when it gave one; `banned` stops retrying at once. */
  | { kind: 'rate-limited'; detail: string; retryAfterMs?: number; banned?: boolean }
  | { kind: 'unavailable'; detail: string }
  /** The exchange refused our timestamp: sync to its clock once, then retry. */
  | { kind: 'clock-skew'; detail: string }
  | { kind: 'bad'; detail: string };

type Classified = Exclude<Verdict, { kind: 'ok' }> | { kind: 'ok'; json: unknown };

/** What the generic loop needs to know about one exchange's HTTP behaviour. */
export interface ExchangeProfile {
  readonly exchange: Exchange;
  readonly policy: LimiterPolicy;
  /** Reads the exchange's rate-limit headers (lower-cased names). */
  observe(res: HttpResponse, now: number): LimitObservation;
  /** The exchange's public clock endpoint, for a `clock-skew` verdict; none: treated as unavailable. */
  readonly serverTime?: { path: string; parse(json: unknown): number | undefined };
  /** Classifies a response whose status is neither 429/418 nor 5xx; `json` is undefined if unparsable. */
  verdict(res: HttpResponse, json: unknown, now: number): Verdict;
}

export interface RetryPolicy {
  /** Attempts for 5xx and network errors (first try included). */
  attempts: number;
  /** Retries after a rate limit. */
  rateLimitRetries: number;
  /** First backoff; doubles per attempt. */
  backoffMs: number;
  /** A Retry-After longer than this is not waited out: the listing fails as rate limited. */
  maxWaitMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  rateLimitRetries: 3,
  backoffMs: 500,
  maxWaitMs: 65_000,
};

export interface SessionDeps {
  profile: ExchangeProfile;
  /** Base URL of the exchange (for the clock endpoint). */
  baseUrl: string;
  transport: HttpTransport;
  limiter: RateLimiter;
  clock: Clock;
  retry?: RetryPolicy;
  signal?: AbortSignal;
  /** Called when a rate limit is about to be waited out (the counts already include it). */
  onRateLimitWait?: () => void;
}

/** Seconds (integer or decimal) or an HTTP date, as RFC 9110 §10.2.3 allows. */
export function parseRetryAfter(v: string | undefined, now: number): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.ceil(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form a sender may generate. */
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/** A `Date` header's time (ms), or undefined when it is absent or not an IMF-fixdate. */
export function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined || !IMF_FIXDATE.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isSafeInteger(t) && t >= 0 ? t : undefined;
}

/**
 * When the exchange's side sent a response (ms): its `Date`, which a cache keeps from the origin's
 * answer, plus the `Age` the cache adds (RFC 9111 §5.1), so a cached public answer (Binance's
 * exchangeInfo) is not read as older than it is. Undefined without a valid `Date`.
 */
export function responseTime(headers: Readonly<Record<string, string>>): number | undefined {
  const date = parseHttpDate(headers['date']);
  if (date === undefined) return undefined;
  const age = headers['age'];
  return age !== undefined && /^\d{1,9}$/.test(age) ? date + Number(age) * 1000 : date;
}

/** How far an exchange's `Date` may be from our clock before a refused key is blamed on it. */
export const KEY_CLOCK_SLACK_MS = 5_000;

export class Session {
  #requests = 0;
  #rateLimitWaits = 0;
  #rateLimitWaitMs = 0;
  /** Exchange time minus ours, learnt from the exchange when it refused a timestamp. */
  #offsetMs = 0;
  #synced = false;
  #used = false;
  #exchangeTime: number | undefined;
  readonly #hash: Hash = createHash('sha256');
  readonly #retry: RetryPolicy;

  constructor(readonly deps: SessionDeps) {
    this.#retry = deps.retry ?? DEFAULT_RETRY;
  }

  get requests(): number {
    return this.#requests;
  }

  /** Rate limits waited out so far (the exchange said "too many requests", then we waited). */
  get rateLimitWaits(): number {
    return this.#rateLimitWaits;
  }

  /** Their total wait (ms): each Retry-After, or the backoff when the exchange gave none. */
  get rateLimitWaitMs(): number {
    return this.#rateLimitWaitMs;
  }

  /**
   * The time to sign with: ours, corrected by the exchange's clock once it has refused a
   * timestamp (inside a TEE the host may skew the clock; the exchange's time comes over TLS).
   */
  now(): number {
    return this.deps.clock.now() + this.#offsetMs;
  }

  digest(): string {
    return this.#hash.copy().digest('hex');
  }

  /**
   * The exchange's clock (`responseTime`: its `Date`, whole seconds, plus any `Age`) at the
   * first response used;
   * undefined if that response carried none (a later one's would be later than the listing's
   * start).
   */
  get exchangeTime(): number | undefined {
    return this.#exchangeTime;
  }

  /** Sends `build()` (re-signed per attempt) with `weight`; returns the parsed JSON body. */
  async send(build: () => HttpRequest, weight: number): Promise<unknown> {
    const { profile, transport, limiter, clock, signal } = this.deps;
    let failures = 0;
    let limited = 0;
    for (;;) {
      // A long ban on this exchange and egress (418, a long Retry-After) fails the job at once
      // instead of holding one of the enclave's job slots asleep until it ends.
      const blocked = limiter.blockedUntil - clock.now();
      if (blocked > this.#retry.maxWaitMs)
        throw new ExchangeError('EXCHANGE_RATE_LIMITED', 'blocked', Math.ceil(blocked / 1000));
      await limiter.acquire(weight, signal);
      let res: HttpResponse;
      try {
        this.#requests++;
        res = await transport.request(build(), signal);
      } catch (err) {
        const e = transportError(err);
        if (e.retry && ++failures < this.#retry.attempts) {
          await clock.sleep(this.#backoff(failures), signal);
          continue;
        }
        throw e.error;
      }
      const now = clock.now();
      limiter.observe(profile.observe(res, now));
      const v = this.#classify(res, now);
      if (v.kind === 'ok') {
        this.#record(res.body);
        if (!this.#used) this.#exchangeTime = responseTime(res.headers);
        this.#used = true;
        return v.json;
      }
      if (v.kind === 'rate-limited') {
        const wait = v.retryAfterMs ?? this.#backoff(limited + 1);
        limiter.blockUntil(now + wait);
        if (v.banned || wait > this.#retry.maxWaitMs || ++limited > this.#retry.rateLimitRetries)
          throw new ExchangeError('EXCHANGE_RATE_LIMITED', v.detail, Math.ceil(wait / 1000));
        this.#rateLimitWaits++;
        this.#rateLimitWaitMs += wait;
        this.deps.onRateLimitWait?.();
        continue;
      }
      // A key refused while the exchange's `Date` is off the time we signed with may be our
      // clock (the host sets it), not the key: Coinbase answers an expired JWT with the 401 of a
      // bad key, and a rejection ends the credential. Sync once and ask again first.
      const skewed = v.kind === 'key-rejected' && this.#offClock(res.headers);
      if ((v.kind === 'clock-skew' || skewed) && !this.#synced && profile.serverTime) {
        this.#synced = true;
        await this.#syncClock(profile.serverTime);
        continue;
      }
      if (v.kind === 'unavailable' || v.kind === 'clock-skew') {
        if (++failures < this.#retry.attempts) {
          await clock.sleep(this.#backoff(failures), signal);
          continue;
        }
        throw new ExchangeError('EXCHANGE_UNAVAILABLE', v.detail);
      }
      throw new ExchangeError(
        v.kind === 'key-rejected' ? 'EXCHANGE_KEY_REJECTED' : 'EXCHANGE_BAD_RESPONSE',
        v.detail,
      );
    }
  }

  /** The response's `Date` is further from our signing time than its resolution and a round trip. */
  #offClock(headers: Readonly<Record<string, string>>): boolean {
    const t = responseTime(headers);
    return t !== undefined && Math.abs(t - this.now()) > KEY_CLOCK_SLACK_MS;
  }

  async #syncClock(endpoint: NonNullable<ExchangeProfile['serverTime']>): Promise<void> {
    const { baseUrl, clock } = this.deps;
    const t0 = clock.now();
    const json = await this.send(
      () => ({ method: 'GET', url: `${baseUrl}${endpoint.path}`, headers: {} }),
      1,
    );
    const server = endpoint.parse(json);
    if (server === undefined || !Number.isSafeInteger(server))
      throw new ExchangeError('EXCHANGE_BAD_RESPONSE', 'server-time');
    this.#offsetMs = server - Math.round((t0 + clock.now()) / 2);
  }

  #backoff(n: number): number {
    return this.#retry.backoffMs * 2 ** (n - 1);
  }

  #classify(res: HttpResponse, now: number): Classified {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], now);
    if (res.status === 429 || res.status === 418) {
      return {
        kind: 'rate-limited',
        detail: `http-${res.status}`,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        banned: res.status === 418,
      };
    }
    if (res.status >= 500) return { kind: 'unavailable', detail: `http-${res.status}` };
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    const v = this.deps.profile.verdict(res, json, now);
    return v.kind === 'ok' ? { kind: 'ok', json } : v;
  }

  #record(body: string): void {
    const bytes = Buffer.from(body, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(bytes.length));
    this.#hash.update(len).update(bytes);
  }
}

function transportError(err: unknown): { error: ExchangeError; retry: boolean } {
  if (err instanceof EgressError) {
    if (err.code === 'EGRESS_TIMEOUT')
      return { error: new ExchangeError('EXCHANGE_TIMEOUT', err.code), retry: true };
    if (err.code === 'EGRESS_NETWORK')
      return { error: new ExchangeError('EXCHANGE_UNAVAILABLE', err.code), retry: true };
    // TLS, proxy refusal, policy, size, abort: retrying would not change the answer.
    return { error: new ExchangeError('EXCHANGE_UNAVAILABLE', err.code), retry: false };
  }
  // Another transport's failure: its message is never kept (it might quote the URL).
  return { error: new ExchangeError('EXCHANGE_UNAVAILABLE', 'transport'), retry: true };
}
