/** The CLI's HTTP calls: JSON in, JSON out, the service's error body turned into a message. */
import { answerText } from '../client/service-call.js';
import { accessToken, refusalHint } from './credentials.js';

export async function requestJson(
  url: string,
  init: { method?: string; body?: unknown; auth?: boolean } = {},
): Promise<unknown> {
  // The access token for protected routes: CLOISTER_ACCESS_TOKEN or the stored login; never argv.
  const token = init.auth ? await accessToken(new URL(url).origin) : undefined;
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await answerText(res);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${res.status}: response is not JSON`);
  }
  if (!res.ok) {
    const err = (
      json as {
        error?: { code?: string; message?: string; details?: { path?: string; issue?: string }[] };
      }
    ).error;
    // Only a protected call sent without a token is told to log in: a public route's 401 (a
    // wrong password, a wrong code) is not about a missing login.
    const hint =
      res.status === 401 && init.auth && !token
        ? ' (log in with cloister login, or set CLOISTER_ACCESS_TOKEN)'
        : refusalHint(err?.code, err?.details, new URL(url).origin);
    // Which field a validation refusal is about (the service names the path, never a value).
    const details = Array.isArray(err?.details)
      ? err.details
          .filter((d) => typeof d?.path === 'string')
          .map((d) => ` [${d.path}: ${d.issue ?? 'invalid'}]`)
          .join('')
      : '';
    // code and not_before ride along for the SDK's ENVELOPE_BEFORE_START retry (fresh-envelope.ts).
    throw Object.assign(
      new Error(
        `${res.status} ${err?.code ?? ''}: ${err?.message ?? 'request failed'}${details}${hint}`,
      ),
      {
        code: err?.code,
        notBefore: (err as { not_before?: unknown } | undefined)?.not_before,
      },
    );
  }
  return json;
}

/** Exponential backoff for the n-th failure in a row (1, 2, 4 … seconds, at most 5 minutes). */
export function retryDelayMs(failures: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, Math.min(failures - 1, 16)));
}

/** Retry-After as milliseconds (seconds or an HTTP date), or undefined when absent or bad. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\d{1,7}$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * fetch that waits out 429 and 503 answers instead of failing: for as long as the server's
 * Retry-After says (capped at 5 minutes), else with exponential backoff. For long-running
 * commands (log monitor), which should outlast a busy service rather than exit. Each attempt,
 * its body included, is abandoned after `timeoutMs`: a host that never answers, or drips an
 * answer forever, must not hold a monitor silent (it fails the poll, which is reported).
 */
export async function patientFetch(
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  for (let failures = 1; ; failures++) {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 429 && res.status !== 503) return res;
    const wait = Math.min(
      300_000,
      retryAfterMs(res.headers.get('retry-after')) ?? retryDelayMs(failures),
    );
    await res.body?.cancel();
    process.stderr.write(
      `cloister: ${res.status} from ${new URL(url).pathname}; retrying in ${Math.ceil(wait / 1000)} s\n`,
    );
    await new Promise((r) => setTimeout(r, wait));
  }
}
