/**
 * What the CLI prints: human text by default, JSON with --json; refusals on stderr in the CLI's
 * own words (its flags, not the SDK's option names); times as dates.
 */

/** SDK option names in messages, and the CLI flags that set them. */
const FLAG_FOR: [RegExp, string][] = [
  [/trustedSimulatedVendorKeys/g, '--trust-simulated-key / --trust-simulated-key-file'],
  [/expectClusterId/g, '--expect-cluster'],
  [/expectedMeasurements?/g, '--expect-measurement'],
  [/allowedApiHosts/g, '--allow-api-host'],
  [/expectedAudience/g, '--expect-audience'],
  [/expectedNonce/g, '--expect-nonce'],
  [/witnessThreshold/g, '--witness-threshold'],
];

/**
 * Text as the terminal may show it: control characters (escape sequences, carriage returns,
 * C1 codes) replaced by U+FFFD, new lines and tabs kept. Much of what the CLI prints comes from
 * the service (error messages, fields); a host must not be able to rewrite the screen with it,
 * say to print "report verified" over a refusal.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '\ufffd');
}

/** JSON text with DEL and the C1 codes (which JSON.stringify leaves raw) as \u escapes. */
function terminalSafeJson(json: string): string {
  return json.replace(
    /[\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function inCliWords(message: string): string {
  return terminalSafe(FLAG_FOR.reduce((m, [re, flag]) => m.replace(re, flag), message));
}

/** Writes `cloister: <message>` on stderr (flags named as the CLI spells them). */
export function warn(message: string): void {
  process.stderr.write(`cloister: ${inCliWords(message)}\n`);
}

/** Prints `cloister: <message>` (flags named as the CLI spells them) and exits. */
export function fail(message: string, code = 1): never {
  warn(message);
  process.exit(code);
}

/** A usage problem: exit 2, like commander's own parse errors. */
export class UsageError extends Error {}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
/** Claims and fields that hold seconds since 1970. */
const EPOCH_KEYS = new Set(['exp', 'iat', 'nbf', 'auth_time', 'timestamp']);

/** `2026-12-06 04:05:00 UTC`: one form for every time the CLI shows. */
export function formatDate(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function scalar(key: string, v: unknown): string {
  if (typeof v === 'string' && ISO.test(v) && !Number.isNaN(Date.parse(v)))
    return formatDate(new Date(v));
  if (typeof v === 'number' && (EPOCH_KEYS.has(key) || key.endsWith('_at')) && v > 1e9)
    return formatDate(new Date(v < 1e12 ? v * 1000 : v));
  if (typeof v === 'number' && key.endsWith('_in')) return `${v} s`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** An object as indented `key: value` lines; arrays as `-` items. */
export function human(value: unknown, indent = '', key = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}(none)`;
    return value
      .map((item) => {
        const body = human(item, `${indent}  `, key);
        return `${indent}- ${body.trimStart()}`;
      })
      .join('\n');
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return `${indent}(empty)`;
    return entries
      .map(([k, v]) =>
        v && typeof v === 'object'
          ? `${indent}${k}:\n${human(v, `${indent}  `, k)}`
          : `${indent}${k}: ${scalar(k, v)}`,
      )
      .join('\n');
  }
  return `${indent}${scalar(key, value)}`;
}

/** Prints `obj` as JSON with --json, else `text` (or the human rendering of `obj`). */
export function printer(json: boolean) {
  return (obj: unknown, text?: string) =>
    process.stdout.write(
      `${json ? terminalSafeJson(JSON.stringify(obj, null, 2)) : terminalSafe(text ?? human(obj))}\n`,
    );
}
