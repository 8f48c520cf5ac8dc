/**
 * `cloister login` keeps the token pair per service URL in the user's config folder
 * ($XDG_CONFIG_HOME/cloister, else ~/.config/cloister; folder 0700, file 0600), so later commands
 * need no token in the environment. A command uses the stored access token while it has more
 * than REFRESH_MARGIN_SECONDS left: the login's (or a step-up's) token carries `auth_time`, so a
 * step-up-protected command passes within AUTH_STEP_UP_SECONDS of `cloister login`. Only then
 * does it trade the stored refresh token for a fresh pair (POST /auth/refresh) and store both
 * before using the access token: the old refresh token is spent (the service's refresh chain
 * detects a reuse), and the refreshed access token has no `auth_time` (it never passes a
 * step-up, by the service's rule). CLOISTER_ACCESS_TOKEN, when set, wins and nothing is read or
 * written.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { answerJson } from '../client/service-call.js';
import { replaceFile } from './files.js';

const StoreSchema = z.record(
  z.string(),
  z.object({
    refresh_token: z.string(),
    // Absent in files written before the access token was kept: the next command refreshes.
    access_token: z.string().optional(),
    access_expires_at: z.iso.datetime().optional(),
    email: z.string().optional(),
    saved_at: z.string(),
  }),
);
type Store = z.infer<typeof StoreSchema>;

const TokenPair = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  expires_in: z.number(),
  refresh_expires_in: z.number(),
});
export type TokenPair = z.infer<typeof TokenPair>;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.trim() ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'cloister');
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'credentials.json');
}

/** The store is keyed by the service's origin (scheme, host, port) plus path, no trailing slash. */
const keyOf = (url: string) => url.replace(/\/+$/, '');

function readStore(): Store {
  const file = credentialsFile();
  if (!existsSync(file)) return {};
  const parsed = StoreSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file} is not a cloister credentials file`);
  return parsed.data;
}

function writeStore(store: Store): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = credentialsFile();
  // Written beside, then renamed: a crash never leaves half a file (and a lost refresh token).
  replaceFile(file, `${JSON.stringify(store, null, 2)}\n`, 0o600);
}

/** The access token this process uses, per store key (a later saveLogin replaces it). */
const cache = new Map<string, string>();

/**
 * Keeps the pair a login, a step-up or a refresh answered (`pair` as the service sent it,
 * checked here), replacing the stored one; the email stays unless a new one is given.
 */
export function saveLogin(url: string, answer: unknown, email?: string): void {
  const pair = TokenPair.parse(answer);
  const store = readStore();
  store[keyOf(url)] = {
    refresh_token: pair.refresh_token,
    access_token: pair.access_token,
    // From expires_in (relative): a clock apart from the service's does not shift it.
    access_expires_at: new Date(Date.now() + pair.expires_in * 1000).toISOString(),
    ...(email ? { email } : store[keyOf(url)]?.email ? { email: store[keyOf(url)]!.email } : {}),
    saved_at: new Date().toISOString(),
  };
  writeStore(store);
  cache.set(keyOf(url), pair.access_token);
}

/** Forgets the stored login of `url`; true when there was one. */
export function forgetLogin(url: string): boolean {
  const store = readStore();
  if (!(keyOf(url) in store)) return false;
  delete store[keyOf(url)];
  writeStore(store);
  return true;
}

export function storedLogin(url: string): Store[string] | undefined {
  return readStore()[keyOf(url)];
}

/** True when protected calls use the stored login: CLOISTER_ACCESS_TOKEN is not set. */
export function usesStoredLogin(): boolean {
  return !process.env.CLOISTER_ACCESS_TOKEN?.trim();
}

/**
 * What to add to a refusal of a token the CLI sent: what to run. For STEP_UP_REQUIRED, `details`
 * name the account's second factors when it has some (then a TOTP step-up of the same session
 * passes, src/host/auth/step-up.ts), else a fresh login does. A stored access token the service
 * no longer takes (its session ended) needs a new login.
 */
export function refusalHint(code: string | undefined, details: unknown, url: string): string {
  const stored = usesStoredLogin();
  if (code === 'AUTH_TOKEN_INVALID' && stored)
    return ' (the stored login was refused: run cloister login again)';
  if (code !== 'STEP_UP_REQUIRED') return '';
  if (!stored)
    return ' (CLOISTER_ACCESS_TOKEN must come from a login or step-up at most AUTH_STEP_UP_SECONDS old: take a fresh one, or unset it and use cloister login)';
  const email = storedLogin(url)?.email;
  const login = `cloister login${email ? ` --email ${email}` : ''}`;
  const why =
    'the stored login is older than the step-up window (AUTH_STEP_UP_SECONDS, 300 s by default)';
  return /totp|recovery_code/.test(JSON.stringify(details ?? null))
    ? ` (${why}: run cloister auth totp step-up --code C (or --recovery-code R), or ${login} --totp-code C, then retry)`
    : ` (${why}: run ${login}, then retry)`;
}

/** A stored access token with less left than this is refreshed: a command outlives no token. */
const REFRESH_MARGIN_SECONDS = 60;

/**
 * The access token for `url`: CLOISTER_ACCESS_TOKEN, else the stored one while it is valid for
 * REFRESH_MARGIN_SECONDS more, else one obtained with the stored refresh token (once per
 * process), else undefined (the service then answers 401).
 */
export async function accessToken(url: string): Promise<string | undefined> {
  const fromEnv = process.env.CLOISTER_ACCESS_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const key = keyOf(url);
  const cached = cache.get(key);
  if (cached) return cached;
  const login = storedLogin(key);
  if (!login) return undefined;
  if (
    login.access_token &&
    login.access_expires_at &&
    Date.parse(login.access_expires_at) - Date.now() > REFRESH_MARGIN_SECONDS * 1000
  ) {
    cache.set(key, login.access_token);
    return login.access_token;
  }
  const res = await fetch(`${key}/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: login.refresh_token }),
  });
  const body = ((await answerJson(res)) ?? {}) as { error?: { code?: string } };
  if (!res.ok) {
    if (res.status === 401) forgetLogin(key);
    throw new Error(
      `the stored login for ${key} was refused (${res.status} ${body.error?.code ?? ''}): run cloister login again`,
    );
  }
  const pair = TokenPair.parse(body);
  saveLogin(key, pair);
  return pair.access_token;
}

/**
 * The user id (`sub`) of the access token for `url`, or undefined without one. Read, not
 * verified: it only says which account the CLI seals a credential for, and a token the CLI holds
 * names the account it acts as anyway.
 */
export async function signedInUserId(url: string): Promise<string | undefined> {
  const token = await accessToken(url);
  if (!token) return undefined;
  try {
    const { sub } = decodeJwt(token);
    return typeof sub === 'string' && sub !== '' ? sub : undefined;
  } catch {
    return undefined;
  }
}
