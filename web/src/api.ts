/**
 * The service's JSON API from the browser: the access token (from a login whose password was
 * encrypted to the enclave) is kept in sessionStorage for this tab only and sent as a bearer
 * token; an expired one is refreshed with the single-use refresh token (withSession). Tabs
 * opened from this one start with a copy of its sessionStorage, so of its refresh token: their
 * refreshes are serialised across tabs and the new pair handed to the others (sharedRefresh).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { z } from 'zod';
import { expiresWithin, rolesOf, subOf } from './jwt.js';
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
  /** ENVELOPE_BEFORE_START: the enclave's earliest accepted issued_at (the SDK's retry uses it). */
  notBefore?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path?: string; issue?: string }[] = [],
  ) {
    super(message);
  }
}

/** Why a refresh's answer was not kept. */
const OTHER_ACCOUNT_REFRESH =
  "The refresh answered with a session of another account than this tab's: it was not kept.";

/** The only answers that say a refresh token is no longer good (docs/errors.md): sign out. */
const REFRESH_REFUSED = new Set(['AUTH_REFRESH_INVALID', 'AUTH_REFRESH_REUSED']);

/**
 * Rotates the session's refresh token. `false` when the service says the token is no longer
 * good (the tab forgets the session) or the tab was signed out meanwhile; any other failure (a
 * 429, a 503, no network, a pair of another account) throws and keeps the session: the refresh
 * token may still be good, and a later call refreshes again.
 */
async function refresh(a: Account): Promise<boolean> {
  // Another tab of this session rotated it while this one waited for the lock: its pair was
  // adopted (the message came before the lock), so the spent token is not presented.
  const now = account.get();
  if (now?.refreshToken !== a.refreshToken) return now !== null && now.userId === a.userId;
  let t: { access_token: string; refresh_token: string };
  try {
    t = await call('/auth/refresh', { method: 'POST', body: { refresh_token: a.refreshToken } });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401 && REFRESH_REFUSED.has(err.code)))
      throw err;
    if (account.get()?.refreshToken === a.refreshToken) account.set(null);
    return false;
  }
  // A pair of another account (a host answering with a session of its own) is not this
  // session's next pair: kept, the tab would go on as that account under this one's name.
  if (subOf(t.access_token) !== a.userId) {
    await endSession(t.access_token);
    throw new Error(OTHER_ACCOUNT_REFRESH);
  }
  // Signed out (or in as someone else) meanwhile: the answer must not bring the session back.
  if (account.get()?.refreshToken !== a.refreshToken) return false;
  rotated(a, t.access_token, t.refresh_token);
  tabs?.postMessage({
    type: 'rotated',
    from: tokenId(a.refreshToken),
    access_token: t.access_token,
    refresh_token: t.refresh_token,
  } satisfies TabMessage);
  return true;
}

/**
 * A step-up's pair for this tab's session: kept, and handed to the tabs that share the session,
 * since the service expires the session's older refresh tokens at a step-up. False (nothing
 * kept) without a session or when the pair is another account's.
 */
export function adoptStepUp(accessToken: string, refreshToken: string): boolean {
  const a = account.get();
  if (!a || subOf(accessToken) !== a.userId) return false;
  const from = tokenId(a.refreshToken);
  rotated(a, accessToken, refreshToken);
  tabs?.postMessage({
    type: 'rotated',
    from,
    access_token: accessToken,
    refresh_token: refreshToken,
  } satisfies TabMessage);
  return true;
}

/** The session `a` moves to a new pair (this tab's refresh, or another tab's message). */
function rotated(a: Account, accessToken: string, refreshToken: string): void {
  spent.add(tokenId(a.refreshToken));
  account.set({ ...a, accessToken, refreshToken, roles: rolesOf(accessToken) });
}

/** Names a refresh token in a message between tabs: its SHA-256, never the token. */
function tokenId(token: string): string {
  return bytesToHex(sha256(utf8ToBytes(token)));
}

/**
 * Tabs sharing a session (the same origin; a BroadcastChannel, in memory only, nothing in
 * localStorage): `rotated` hands the new pair to the tabs that still hold the refresh token
 * `from` names; `hello` (a tab that starts with a session) asks for the pair that replaced the
 * token it holds, answered by a tab that rotated it away (it was loading when the pair came);
 * `signed-out` (a tab's Sign out) names the refresh tokens of the session that ends, its own and
 * those it moved on from, and every tab of that session forgets it too.
 */
const TabMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('rotated'),
    from: z.string(),
    access_token: z.string(),
    refresh_token: z.string(),
  }),
  z.object({ type: z.literal('hello'), from: z.string() }),
  z.object({ type: z.literal('signed-out'), from: z.array(z.string()).max(1000) }),
]);
type TabMessage = z.infer<typeof TabMessage>;

/** The ids of the refresh tokens this tab's session moved on from (memory only). */
const spent = new Set<string>();
const tabs =
  typeof BroadcastChannel === 'function' ? new BroadcastChannel('cloister-session') : null;
tabs?.addEventListener('message', (ev: MessageEvent<unknown>) => {
  const m = TabMessage.safeParse(ev.data);
  const a = account.get();
  if (!m.success || !a) return;
  if (m.data.type === 'hello') {
    if (spent.has(m.data.from))
      tabs.postMessage({
        type: 'rotated',
        from: m.data.from,
        access_token: a.accessToken,
        refresh_token: a.refreshToken,
      } satisfies TabMessage);
  } else if (m.data.type === 'signed-out') {
    const mine = tokenId(a.refreshToken);
    if (m.data.from.some((id) => id === mine || spent.has(id))) account.set(null);
  } else if (m.data.from === tokenId(a.refreshToken) && subOf(m.data.access_token) === a.userId) {
    rotated(a, m.data.access_token, m.data.refresh_token);
  }
});
{
  const a = account.get();
  if (a) tabs?.postMessage({ type: 'hello', from: tokenId(a.refreshToken) } satisfies TabMessage);
}

/**
 * One refresh at a time across the tabs of this origin (the Web Locks API): a tab that waited
 * finds its token already rotated, and the new pair adopted, instead of presenting the spent
 * token, which the service would take for a stolen one (AUTH_REFRESH_REUSED) and end every
 * session of the account. The pair is posted before the lock is released.
 */
function sharedRefresh(a: Account): Promise<boolean> {
  if (!('locks' in navigator)) return refresh(a);
  return navigator.locks.request('cloister-refresh', () => refresh(a));
}

/**
 * Ends the session: forgotten here first, then logged out at the service. Forgetting first
 * matters: a page loaded while the logout is in flight (a navigation right after the click)
 * must not find the session in sessionStorage, and calls still in flight that get 401 once it
 * is revoked must not refresh it (withSession refreshes only while signed in). The logout is
 * sent with `keepalive`, so a navigation does not cancel it.
 */
export async function signOut(): Promise<void> {
  let a = account.get();
  if (!a) return;
  // A token about to expire is refreshed first, so that the logout is accepted.
  if (expiresWithin(a.accessToken, 30) && (await refreshOnce(a).catch(() => false)))
    a = account.get() ?? a;
  account.set(null);
  // The tabs sharing this session (opened from this one) forget it too: signed out here, the
  // account must not stay open, tokens and all, in a tab beside it.
  tabs?.postMessage({
    type: 'signed-out',
    from: [tokenId(a.refreshToken), ...spent],
  } satisfies TabMessage);
  await endSession(a.accessToken);
}

/**
 * Logs out the session of `accessToken` at the service (with `keepalive`, so a navigation does
 * not cancel it). A failure is not reported: the tab keeps nothing of it, and the session then
 * ends at its expiry.
 */
export async function endSession(accessToken: string): Promise<void> {
  try {
    await call('/auth/logout', { method: 'POST', keepalive: true }, accessToken);
  } catch {
    // Nothing kept here; the session ends at its expiry.
  }
}

let refreshing: Promise<boolean> | null = null;
/** One refresh at a time: the refresh token is single-use, so concurrent calls share it. */
function refreshOnce(a: Account): Promise<boolean> {
  refreshing ??= sharedRefresh(a).finally(() => (refreshing = null));
  return refreshing;
}

/**
 * Runs a call that sends the tab's access token: `api` below and the SDK's route clients (the
 * wallet page) go through here, the one place tokens are refreshed. A token about to expire is
 * refreshed first; one the service refuses (401 AUTH_TOKEN_INVALID: expired, or revoked) is
 * refreshed once and the call sent again. A 401 STEP_UP_REQUIRED is not refreshed (a refreshed
 * token never carries a recent authentication): the step-up dialog opens, then the call is
 * sent once more.
 */
export async function withSession<T>(f: (accessToken: string) => Promise<T>): Promise<T> {
  const attempt = async (): Promise<T> => {
    let a = account.get();
    if (!a) throw new Error('sign in first');
    // A failed early refresh (a 429, a 503) is not final: the token may still be good.
    if (expiresWithin(a.accessToken, 30) && (await refreshOnce(a).catch(() => false)))
      a = account.get()!;
    try {
      return await f(a.accessToken);
    } catch (err) {
      const e = err as { status?: unknown; code?: unknown };
      const now = account.get();
      // Signed out meanwhile (the session is being revoked), or in as someone else: no refresh.
      if (e.status !== 401 || e.code !== 'AUTH_TOKEN_INVALID' || now?.userId !== a.userId)
        throw err;
      // Another call may have refreshed meanwhile: then only send again.
      if (now.accessToken === a.accessToken && !(await refreshOnce(now))) throw err;
      return f(account.get()!.accessToken);
    }
  };
  try {
    return await attempt();
  } catch (err) {
    // A sensitive operation: ask for a recent authentication (dialog), then retry once.
    const e = err as { code?: unknown; message?: string; details?: { issue?: string }[] };
    if (e.code !== 'STEP_UP_REQUIRED' || !account.get()) throw err;
    await requestStepUp(e.details?.map((d) => d.issue ?? '').join('; ') || (e.message ?? ''));
    return attempt();
  }
}

/** A GET with the token, for clients that take a fetch: a refused token throws (withSession). */
export async function sessionFetch(url: string, token: string): Promise<Response> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 401) return res;
  const code = (await readBody(res.clone()))?.['error'] as { code?: string } | undefined;
  if (code?.code !== 'AUTH_TOKEN_INVALID') return res;
  throw new ApiError(401, code.code, 'the access token is invalid, expired or revoked');
}

export function api<T>(
  path: string,
  init: { method?: string; body?: unknown; auth?: boolean } = {},
): Promise<T> {
  if (init.auth === false || !account.get()) return call<T>(path, init);
  return withSession((token) => call<T>(path, init, token));
}

/** One JSON call; a non-2xx answer is an ApiError with the service's code and details. */
async function call<T>(
  path: string,
  init: { method?: string; body?: unknown; keepalive?: boolean },
  token?: string,
): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    ...(init.keepalive ? { keepalive: true } : {}),
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const json = await readBody(res);
  if (!res.ok) {
    const e = (json?.['error'] ?? {}) as {
      code?: string;
      message?: string;
      details?: { path?: string; issue?: string }[];
      not_before?: unknown;
    };
    const err = new ApiError(
      res.status,
      e.code ?? 'HTTP_ERROR',
      e.message ?? `HTTP ${res.status}`,
      Array.isArray(e.details) ? e.details : [],
    );
    if (typeof e.not_before === 'number') err.notBefore = e.not_before;
    throw err;
  }
  return json as T;
}

async function readBody(res: Response): Promise<Record<string, unknown> | null> {
  return (await res.json().catch(() => null)) as Record<string, unknown> | null;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return (err as Error).message ?? String(err);
}
