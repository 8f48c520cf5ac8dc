/**
 * `cloister login` keeps a refresh token per service URL in the user's config folder
 * ($XDG_CONFIG_HOME/cloister, else ~/.config/cloister; folder 0700, file 0600), so later commands
 * need no token in the environment. Each command that needs an access token trades the stored
 * refresh token for a fresh pair (POST /auth/refresh) and stores the rotated refresh token
 * before using the access token: the old one is spent (the service's refresh chain detects a
 * reuse). CLOISTER_ACCESS_TOKEN, when set, wins and nothing is read or written.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { answerJson } from '../client/service-call.js';

const StoreSchema = z.record(
  z.string(),
  z.object({ refresh_token: z.string(), email: z.string().optional(), saved_at: z.string() }),
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
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function saveLogin(url: string, refreshToken: string, email?: string): void {
  const store = readStore();
  store[keyOf(url)] = {
    refresh_token: refreshToken,
    ...(email ? { email } : store[keyOf(url)]?.email ? { email: store[keyOf(url)]!.email } : {}),
    saved_at: new Date().toISOString(),
  };
  writeStore(store);
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
 * What to add to a STEP_UP_REQUIRED refusal of a token the stored login yielded: such a token
 * comes from a refresh, which carries no login time, so logging in again does not help it.
 */
export function stepUpHint(code: string | undefined): string {
  return code === 'STEP_UP_REQUIRED' && usesStoredLogin()
    ? ' (a token of the stored login comes from a refresh and never passes a step-up: set CLOISTER_ACCESS_TOKEN to the access_token that cloister auth login --json or auth totp step-up prints)'
    : '';
}

const cache = new Map<string, string>();

/**
 * The access token for `url`: CLOISTER_ACCESS_TOKEN, else one obtained with the stored refresh
 * token (once per process), else undefined (the service then answers 401).
 */
export async function accessToken(url: string): Promise<string | undefined> {
  const fromEnv = process.env.CLOISTER_ACCESS_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const key = keyOf(url);
  const cached = cache.get(key);
  if (cached) return cached;
  const login = storedLogin(key);
  if (!login) return undefined;
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
  saveLogin(key, pair.refresh_token);
  cache.set(key, pair.access_token);
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
