/**
 * Structured logs (pino). The host never holds a plaintext secret, but requests carry
 * ciphertext and clients make mistakes (a secret pasted into a label, an Authorization
 * header): request bodies are never logged, and the redaction list removes every field that
 * could hold key material if one ever reached a log call.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type DestinationStream, type Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';

/** LOG_FORMAT: `auto` is pretty on a terminal (a person reading), JSON otherwise (a collector). */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * The field names whose values never reach a log line, at any depth of a logged object (the
 * object itself, anything nested in it, arrays included) and in the bindings of a child logger
 * and the objects interpolated into a message (`%s`, `%o`, `%j`, whatever the placeholder:
 * `interpolated`, below). Until stop 26 this was pino's
 * `redact` option with `*.x` paths, which matched one level of nesting only and copied every
 * logged object's values on every line (~85 % of a line's cost); this walk covers a superset
 * (every depth) and copies only the objects on the way to a censored field.
 */
export const REDACTED_FIELDS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'set-cookie',
  'apiKey',
  'apiSecret',
  'passphrase',
  'password',
  'refresh_token',
  'access_token',
  'password_sealed',
  'secret',
  'ciphertext',
  'sealed',
  'binding',
  'privateKey',
  'private_key',
  'body',
  'token',
  'totp_sealed',
  'otpauth_uri',
  'recovery_codes',
]);

/** REDACTED_FIELDS lower-cased: a name matches in any case (`Authorization`, `APIKEY`). */
const REDACTED_LOWER: ReadonlySet<string> = new Set(
  [...REDACTED_FIELDS].map((f) => f.toLowerCase()),
);

/**
 * How deep and how wide the walk goes: far past what any log call of the host's writes, and a
 * bound on the walk whatever reaches a log call (a recursion past the stack, or a walk over a
 * huge array, would make the log call throw or stall). What lies beyond is replaced by "[...]",
 * never written unwalked.
 */
const MAX_DEPTH = 32;
const MAX_ITEMS = 1000;
const TOO_DEEP = '[...]';

export const CENSOR = '[redacted]';

/**
 * A query string in a line's text (the message, or a string interpolated into it with `%s`).
 * Fastify writes a request's raw URL into some of its own messages ("Reply was already sent, did
 * you forget to "return reply" in "/x?token=…" (GET)?"), and a query string may carry a token, a
 * nonce or a code. From a `?` that starts the text or follows a non-blank character (a `%s`
 * argument is censored alone: `URL.search` starts with it) up to the next blank, the text is
 * censored: a raw request URL holds no blank, so its whole query goes. Linear in the text (every
 * match ends at the next blank).
 */
const QUERY_IN_TEXT = /(?<!\s)\?\S+/g;

/** `text` with every query string in it censored (QUERY_IN_TEXT); a closing quote is kept. */
export function redactText(text: string): string {
  if (!text.includes('?')) return text;
  return text.replace(QUERY_IN_TEXT, (q) => `?${CENSOR}${/["'`)]$/.test(q) ? q.slice(-1) : ''}`);
}

/**
 * The message pino writes for a logged object given without one (or with an undefined one): an
 * error's own message, or that of its `err` field (FST_ERR_REP_ALREADY_SENT's holds the raw
 * URL). Made explicit by the logMethod hook so that redactText covers it like any other message.
 */
function implicitMessage(obj: unknown): string | undefined {
  if (obj instanceof Error) return obj.message;
  if (typeof obj !== 'object' || obj === null) return undefined;
  const { msg, err } = obj as { msg?: unknown; err?: { message?: unknown } };
  if (msg !== undefined || typeof err !== 'object' || err === null) return undefined;
  return typeof err.message === 'string' ? err.message : undefined;
}

/** What a logged object becomes when the walk over it fails: the line is written without it. */
const UNLOGGABLE = Object.freeze({ logFields: CENSOR });

/**
 * Keys whose values pino replaces with a serializer's output (below) before the line is
 * written: never walked (a Fastify request is large, with getters), and what replaces them
 * holds only the named safe fields.
 */
const SERIALIZED = new Set(['req', 'res', 'err']);

type Plain = Record<string, unknown>;

/**
 * `value` with every REDACTED_FIELDS entry's value censored, at any depth. Objects and arrays
 * without such a field are returned as they are (no copy); one that has one is copied along the
 * way, so the caller's object is never changed. A reference back to an object being walked
 * (a cycle) becomes "[Circular]", as pino's stringifier writes it.
 */
export function redactForLog(value: unknown, skip?: ReadonlySet<string>): unknown {
  return redactValue(value, [], skip);
}

/**
 * redactForLog that never throws (a throwing getter, proxy or toJSON in a logged object): what
 * could not be walked is replaced by `fallback`, so the line is still written, without it.
 */
function redactOr(
  value: unknown,
  fallback: unknown,
  skip?: ReadonlySet<string>,
  text = false,
): unknown {
  try {
    return redactValue(value, [], skip, text);
  } catch {
    return fallback;
  }
}

/**
 * `text`: also censor the query strings of every string met on the way (redactText), for a
 * value interpolated into a line's text, where a URL may hide in an array or a String object.
 */
function redactValue(
  value: unknown,
  seen: object[],
  skip?: ReadonlySet<string>,
  text = false,
): unknown {
  if (text && typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (text && value instanceof String) return redactText(value.valueOf());
  // Bytes hold no field names (and a walk over a large Buffer's indices takes seconds).
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  // What pino's stringifier would write; a reference back would reach the uncensored original.
  if (seen.includes(value)) return '[Circular]';
  if (seen.length >= MAX_DEPTH) return TOO_DEEP;
  // The stringifier writes what toJSON returns, not the object: walk that instead.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    seen.push(value);
    try {
      return redactValue(toJSON.call(value), seen, undefined, text);
    } finally {
      seen.pop();
    }
  }
  seen.push(value);
  try {
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      const n = Math.min(value.length, MAX_ITEMS);
      if (n < value.length) copy = [...value.slice(0, n), TOO_DEEP];
      for (let i = 0; i < n; i++) {
        const item: unknown = value[i];
        const next = redactValue(item, seen, undefined, text);
        if (next !== item) (copy ??= value.slice())[i] = next;
      }
      return copy ?? value;
    }
    let copy: Plain | undefined;
    const obj = value as Plain;
    for (const key in obj) {
      if (!Object.hasOwn(obj, key) || skip?.has(key) === true) continue;
      const item = obj[key];
      const next = REDACTED_LOWER.has(key.toLowerCase())
        ? CENSOR
        : redactValue(item, seen, undefined, text);
      if (next !== item) (copy ??= { ...obj })[key] = next;
    }
    return copy ?? value;
  } finally {
    seen.pop();
  }
}

/**
 * What stands for an object interpolated into a message (or given as the message), once walked.
 * pino (quick-format-unescaped) writes `%o`, `%O` and `%j` as JSON, which takes toJSON: the
 * walked value. `%s` it writes as `String(arg)`, which would call the object's own `toString`
 * (or its class's, or Symbol.toPrimitive), none of which the walk sees, on the object itself:
 * here it is the walked value's JSON, what `%j` writes. `%d`, `%i` and `%f` take `Number(arg)`,
 * which would call valueOf or toString the same way: here NaN, as for any plain object.
 */
class Interpolated {
  readonly #walked: object;
  constructor(walked: object) {
    this.#walked = walked;
  }
  toJSON(): unknown {
    return this.#walked;
  }
  [Symbol.toPrimitive](hint: string): string | number {
    if (hint === 'number') return NaN;
    try {
      return JSON.stringify(this.#walked);
    } catch {
      // A BigInt, which JSON cannot write (pino's own stringifier can, for %j).
      return CENSOR;
    }
  }
}

/** `name: message` of an Error, or CENSOR when a getter of either throws. */
function errorText(err: Error): string {
  try {
    return `${String(err.name)}: ${String(err.message)}`;
  } catch {
    return CENSOR;
  }
}

/**
 * An argument of a log call after the logged object (the message, and what `%s`, `%d`, `%o`,
 * `%j`… interpolate into it): a string with its query strings censored (redactText, also when an
 * object's toJSON makes one, as a URL's does, and in every string inside an object, an array or a
 * String object), an object walked (redactForLog) and replaced by
 * an Interpolated, whatever placeholder takes it; an Error as its `name: message`, a Symbol as
 * its text.
 */
function interpolated(arg: unknown): unknown {
  // An Error's name and message are not own enumerable fields: walked, it would be "{}". Its
  // text, as a logged error's message is written (implicitMessage); its own toString never runs.
  if (arg instanceof Error) return redactText(errorText(arg));
  // A Symbol as text: `%d` would throw on it (Number(symbol)), and a log call never throws.
  if (typeof arg === 'symbol') return arg.toString();
  const walked = typeof arg === 'string' ? arg : redactOr(arg, CENSOR, undefined, true);
  if (typeof walked === 'string') return redactText(walked);
  return typeof walked === 'object' && walked !== null ? new Interpolated(walked) : walked;
}

/**
 * The logger. Redaction and the serializers run in pino before a line is written, so the
 * pretty form shows exactly what the JSON form would, only laid out for a person.
 */
export function createLogger(
  level: string,
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  // `auto` looks at stdout only when the lines go there (tests pass their own destination).
  const pretty =
    format === 'pretty' ||
    (format === 'auto' && destination === undefined && process.stdout.isTTY === true);
  const stream = pretty
    ? prettyStream({
        sync: true,
        translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
        ignore: 'pid,hostname,service',
        colorize: destination === undefined && process.stdout.isTTY === true,
        ...(destination ? { destination } : {}),
      })
    : destination;
  const logger = pino(
    {
      level,
      base: { service: 'cloister-host' },
      formatters: {
        log: (obj) => redactOr(obj, UNLOGGABLE, SERIALIZED) as Plain,
        bindings: (bindings) => redactOr(bindings, UNLOGGABLE) as Plain,
      },
      hooks: {
        // The message and what is interpolated into it (interpolated): strings with their
        // query strings censored, objects walked, whatever the placeholder. The first
        // argument, when an object, is the logged object, which formatters.log covers.
        logMethod(args, method) {
          const first = typeof args[0] === 'object' ? 1 : 0;
          const implicit =
            first === 1 && args[1] === undefined ? implicitMessage(args[0]) : undefined;
          if (implicit !== undefined) (args as unknown[])[1] = implicit;
          for (let i = first; i < args.length; i++) args[i] = interpolated(args[i]);
          method.apply(this, args);
        },
      },
      serializers: {
        // Method, route and status only: query strings may hold nonces, bodies ciphertext.
        req: (req: { method?: string; routeOptions?: { url?: string }; id?: string }) => ({
          method: req.method,
          route: req.routeOptions?.url,
          id: req.id,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        err: (err: Error & { code?: string }) => ({ type: err.name, code: err.code }),
      },
    },
    stream,
  );
  // A child's bindings are written once, when it is made; pino applies formatters.bindings to
  // the root's only. Children inherit this `child` (pino makes them with Object.create).
  const child = Object.getPrototypeOf(logger).child as Logger['child'];
  logger.child = function redactedChild(this: Logger, bindings, options) {
    return child.call(this, redactOr(bindings, UNLOGGABLE) as Plain, options);
  } as Logger['child'];
  return logger;
}

/**
 * Fastify's request lines: one per request, when it completes (method, route and request id by
 * the `req` serializer, status by `res`, the response time in ms), instead of Fastify's two (an
 * "incoming request" line and a "request completed" line). A request that ends in an error is
 * logged as Fastify does it ("request errored", and the error handler's own lines).
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    const fields = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...fields, err: error }, 'request errored');
    else reply.log.info(fields, 'request completed');
  }
}
