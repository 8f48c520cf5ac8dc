/**
 * The service's JSON API from the browser: the access token (from a login whose password was
 * encrypted to the enclave) is kept in sessionStorage for this tab only and sent as a bearer
 * token; an expired one is refreshed once with the single-use refresh token.
 */
import { requestStepUp } from './step-up.js';
import { readJson, Store, writeJson } from './store.js';

export interface Account {
  userId: string;
  email: string;
  accessToken: string;
  refreshToken: string;
  roles: string[];
}

const ACCOUNT_KEY = 'cloister.account.v1';
export const account = new Store<Account | null>(readJson(sessionStorage, ACCOUNT_KEY, null));
account.subscribe(() => {
  const a = account.get();
  if (a) writeJson(sessionStorage, ACCOUNT_KEY, a);
  else sessionStorage.removeItem(ACCOUNT_KEY);
});

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path?: string; issue?: string }[] = [],
  ) {
    super(message);
  }
}

/** The roles claim of an access token (display only; the service decides). */
export function rolesOf(token: string): string[] {
  try {
    const part = token.split('.')[1] ?? '';
    const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as {
      roles?: unknown;
    };
    return Array.isArray(json.roles) ? json.roles.filter((r) => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

async function refresh(a: Account): Promise<boolean> {
  const res = await fetch('/auth/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: a.refreshToken }),
  });
  if (!res.ok) {
    account.set(null);
    return false;
  }
  const t = (await res.json()) as { access_token: string; refresh_token: string };
  account.set({
    ...a,
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    roles: rolesOf(t.access_token),
  });
  return true;
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; auth?: boolean } = {},
): Promise<T> {
  const send = () => {
    const a = account.get();
    return fetch(path, {
      method: init.method ?? 'GET',
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.auth !== false && a ? { authorization: `Bearer ${a.accessToken}` } : {}),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  };
  const attempt = async () => {
    let res = await send();
    let json = await readBody(res);
    const a = account.get();
    // An expired token is refreshed once; a STEP_UP_REQUIRED is not (a refreshed token never
    // carries a recent authentication, so refreshing cannot help).
    if (res.status === 401 && init.auth !== false && a && codeOf(json) !== 'STEP_UP_REQUIRED') {
      if (await refresh(a)) {
        res = await send();
        json = await readBody(res);
      }
    }
    if (!res.ok) {
      const e = (json?.['error'] ?? {}) as {
        code?: string;
        message?: string;
        details?: { path?: string; issue?: string }[];
      };
      throw new ApiError(
        res.status,
        e.code ?? 'HTTP_ERROR',
        e.message ?? `HTTP ${res.status}`,
        Array.isArray(e.details) ? e.details : [],
      );
    }
    return json as T;
  };
  try {
    return await attempt();
  } catch (err) {
    // A sensitive operation: ask for a recent authentication (dialog), then retry once.
    if (!(err instanceof ApiError) || err.code !== 'STEP_UP_REQUIRED' || !account.get()) throw err;
    await requestStepUp(err.details.map((d) => d.issue ?? '').join('; ') || err.message);
    return attempt();
  }
}

async function readBody(res: Response): Promise<Record<string, unknown> | null> {
  return (await res.json().catch(() => null)) as Record<string, unknown> | null;
}

function codeOf(json: Record<string, unknown> | null): string | undefined {
  return (json?.['error'] as { code?: string } | undefined)?.code;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return (err as Error).message ?? String(err);
}
