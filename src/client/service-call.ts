/**
 * One JSON call to the service (isomorphic: `fetch` only), shared by the SDK's route clients:
 * the access token as a bearer header, a non-2xx answer turned into the caller's error class
 * with the stable code of docs/errors.md and its details.
 */
import { ClientError } from './errors.js';

export interface ServiceCallOptions {
  baseUrl: string;
  accessToken?: string | undefined;
  fetch?: typeof fetch | undefined;
}

export type ApiErrorDetails = { path: string; issue: string }[];

/** The service answered with an error: `code` is the stable code of docs/errors.md. */
export class ApiError extends Error {
  /** ENVELOPE_BEFORE_START: the enclave's earliest accepted issued_at (fresh-envelope.ts). */
  notBefore?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    readonly details?: ApiErrorDetails,
  ) {
    super(`${status} ${code}`);
    this.name = 'ApiError';
  }
}

/**
 * The largest answer the SDK (and the CLI) reads from the service: 16 MiB, far above any honest
 * answer (a page of 1000 log entries is about 1 MiB). A hostile host could otherwise answer
 * gigabytes that are buffered whole and parsed (out of memory: a crash, not an error).
 */
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** An answer body: a fetch Response, or the parts of one a custom fetch provides. */
export interface AnswerBody {
  body?: ReadableStream<Uint8Array> | null;
  headers?: { get(name: string): string | null };
}

/** The body as text, refused (ClientError HTTP_ERROR) once it passes `max` bytes. */
export async function answerText(res: AnswerBody, max = MAX_ANSWER_BYTES): Promise<string> {
  const tooLarge = () =>
    new ClientError('HTTP_ERROR', `the service's answer is larger than ${max} bytes`);
  if (Number(res.headers?.get('content-length') ?? 0) > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** The body as JSON (null when it is not JSON), within MAX_ANSWER_BYTES. */
export async function answerJson(res: AnswerBody): Promise<unknown> {
  const text = await answerText(res);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export async function callService<T>(
  opts: ServiceCallOptions,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body: Record<string, unknown> | undefined,
  toError: (status: number, code: string, details?: ApiErrorDetails) => Error,
): Promise<T> {
  const f = opts.fetch ?? fetch;
  const res = await f(new URL(path, opts.baseUrl).toString(), {
    method,
    headers: {
      ...(opts.accessToken ? { authorization: `Bearer ${opts.accessToken}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await answerJson(res)) as Record<string, unknown> | null;
  if (!res.ok) {
    const e = (json?.['error'] ?? {}) as {
      code?: string;
      details?: ApiErrorDetails;
      not_before?: unknown;
    };
    const err = toError(res.status, e.code ?? 'HTTP_ERROR', e.details);
    if (typeof e.not_before === 'number') (err as { notBefore?: number }).notBefore = e.not_before;
    throw err;
  }
  if (json === null) throw new ClientError('INPUT_INVALID', 'the service answered with no JSON');
  return json as T;
}
