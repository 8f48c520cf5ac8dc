/**
 * Structured logs (pino). The host never holds a plaintext secret, but requests carry
 * ciphertext and clients make mistakes (a secret pasted into a label, an Authorization
 * header): request bodies are never logged, and the redaction list removes every field that
 * could hold key material if one ever reached a log call.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { build as prettyStream } from 'pino-pretty';

/** LOG_FORMAT: `auto` is pretty on a terminal (a person reading), JSON otherwise (a collector). */
export type LogFormat = 'auto' | 'json' | 'pretty';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.apiKey',
  '*.apiSecret',
  '*.passphrase',
  '*.password',
  '*.refresh_token',
  '*.access_token',
  '*.password_sealed',
  'res.headers["set-cookie"]',
  '*.secret',
  '*.ciphertext',
  '*.sealed',
  '*.binding',
  '*.privateKey',
  '*.private_key',
  'body',
  '*.body',
];

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
  return pino(
    {
      level,
      base: { service: 'cloister-host' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
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
}
