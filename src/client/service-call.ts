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
  const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
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
