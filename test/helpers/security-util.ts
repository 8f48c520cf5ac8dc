/**
 * Shared tools of the security suite (test/security): needle sets for finding a secret in any
 * encoding, whole-database and whole-folder dumps, the error-body contract, role-scoped
 * database access on both engines, and small HTTP helpers over `app.inject()`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { CryptoHelper, type ExchangeCredentials } from '../../src/client/index.js';
import type { Queryable } from '../../src/host/db/database.js';
import { HTTP_ERRORS, type HttpErrorCode } from '../../src/host/errors.js';
import { verifiedAttestation } from './client.js';
import type { TestService } from './service.js';

// ---------------------------------------------------------------------------------------------
// Needles: every form a secret string could take if it leaked.

export interface Needle {
  /** What the needle is, for assertion messages (never the secret itself). */
  name: string;
  value: string;
}

/**
 * The secret as UTF-8 text, as lower/upper hex, and as base64 / base64url at all three byte
 * alignments (a secret embedded in a larger base64 blob, e.g. the encoded credential JSON, shows
 * up as one of these three fragments wherever it sits).
 */
export function secretNeedles(label: string, secret: string): Needle[] {
  const bytes = Buffer.from(secret, 'utf8');
  const hex = bytes.toString('hex');
  const out: Needle[] = [
    { name: `${label} (utf-8)`, value: secret },
    { name: `${label} (hex)`, value: hex },
    { name: `${label} (HEX)`, value: hex.toUpperCase() },
  ];
  for (let shift = 0; shift < 3; shift++) {
    const usable = Math.floor((bytes.length - shift) / 3) * 3;
    if (usable < 12) continue; // too short to be a meaningful fragment
    const chunk = bytes.subarray(shift, shift + usable);
    out.push({ name: `${label} (base64, shift ${shift})`, value: chunk.toString('base64') });
    out.push({ name: `${label} (base64url, shift ${shift})`, value: chunk.toString('base64url') });
  }
  return out;
}

/** Raw secret bytes (a root, a share) in hex and base64 forms, as `secretNeedles` does for text. */
export function bytesNeedles(label: string, bytes: Uint8Array): Needle[] {
  const b = Buffer.from(bytes);
  const out: Needle[] = [
    { name: `${label} (hex)`, value: b.toString('hex') },
    { name: `${label} (HEX)`, value: b.toString('hex').toUpperCase() },
  ];
  for (let shift = 0; shift < 3; shift++) {
    const chunk = b.subarray(shift, shift + Math.floor((b.length - shift) / 3) * 3);
    out.push({ name: `${label} (base64, shift ${shift})`, value: chunk.toString('base64') });
    out.push({ name: `${label} (base64url, shift ${shift})`, value: chunk.toString('base64url') });
  }
  return out;
}

export function credentialNeedles(creds: ExchangeCredentials, tag: string): Needle[] {
  return [
    ...secretNeedles(`${tag}.apiKey`, creds.apiKey),
    ...secretNeedles(`${tag}.apiSecret`, creds.apiSecret),
    ...(creds.passphrase ? secretNeedles(`${tag}.passphrase`, creds.passphrase) : []),
  ];
}

/** Names of the needles found in `haystack` (a string or raw bytes). */
export function findNeedles(haystack: string | Buffer, needles: readonly Needle[]): string[] {
  return needles
    .filter((n) =>
      typeof haystack === 'string'
        ? haystack.includes(n.value)
        : haystack.includes(Buffer.from(n.value, 'utf8')),
    )
    .map((n) => n.name);
}

// ---------------------------------------------------------------------------------------------
// Dumps.

export interface TableDump {
  table: string;
  rows: string[];
}

/** Every row of every base table in the public schema, each as its whole-row text form. */
export async function dumpPublicSchema(db: Pick<Queryable, 'query'>): Promise<TableDump[]> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const out: TableDump[] = [];
  for (const { table_name } of tables) {
    const ident = `"${table_name.replace(/"/g, '""')}"`;
    const { rows } = await db.query<{ row: string }>(
      `SELECT t::text AS row FROM public.${ident} t`,
    );
    out.push({ table: table_name, rows: rows.map((r) => r.row) });
  }
  return out;
}

/** Every regular file under `dir` (recursively), with its bytes. Sockets and the like are skipped. */
export function readAllFiles(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...readAllFiles(p));
    else if (st.isFile()) out.push({ path: p, bytes: readFileSync(p) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/** Asserts the status, the `{ error: { code, message[, details | not_before] } }` shape and the fixed message. */
export function assertError(
  res: LightMyRequestResponse,
  status: number,
  code: HttpErrorCode,
  what = '',
): void {
  const ctx = `${what ? `${what}: ` : ''}${res.statusCode} ${res.body.slice(0, 300)}`;
  assert.equal(res.statusCode, status, ctx);
  assert.match(String(res.headers['content-type']), /^application\/json/, ctx);
  const body = res.json() as { error?: { code?: unknown; message?: unknown; details?: unknown } };
  assert.deepEqual(Object.keys(body), ['error'], ctx);
  const keys = Object.keys(body.error!).sort();
  assert.ok(
    JSON.stringify(keys) === '["code","message"]' ||
      JSON.stringify(keys) === '["code","details","message"]' ||
      // ENVELOPE_BEFORE_START alone carries the enclave's earliest accepted issued_at.
      (code === 'ENVELOPE_BEFORE_START' &&
        JSON.stringify(keys) === '["code","message","not_before"]'),
    `unexpected error keys ${keys.join(',')} (${ctx})`,
  );
  if (code === 'ENVELOPE_BEFORE_START')
    assert.ok(Number.isSafeInteger((body.error as { not_before?: unknown }).not_before), ctx);
  assert.equal(body.error!.code, code, ctx);
  assert.equal(body.error!.message, HTTP_ERRORS[code][1], ctx);
  if (body.error!.details !== undefined) {
    assert.ok(Array.isArray(body.error!.details), ctx);
    for (const d of body.error!.details as unknown[]) {
      assert.deepEqual(Object.keys(d as object).sort(), ['issue', 'path'], ctx);
    }
  }
}

/** A Node stack frame ("at fn (/path/file.ts:1:2)") or any absolute source path. */
export const STACK_TRACE_RE =
  /\bat\s+\S*\s*\(?(?:file:\/\/)?\/[^\s)]+:\d+(?::\d+)?\)?|\/(?:work|src|node_modules)\/\S+\.(?:ts|js|mjs)\b/;

export async function enclaveKey(ts: TestService): Promise<{ pub: string; keyId: string }> {
  const { verification } = await verifiedAttestation(ts);
  return { pub: verification.enclavePubkey!, keyId: verification.keyId! };
}

export interface Submitted {
  sessionId: string;
  creds: ExchangeCredentials;
  label: string;
}

/** Encrypts (v1 or HPKE) and submits; asserts 200 and returns the session id. */
export async function submitOk(
  app: FastifyInstance,
  pub: string,
  creds: ExchangeCredentials,
  opts: {
    label?: string;
    ttl?: number;
    hpke?: 'HPKE-Base-X25519-SHA256-A128GCM' | 'HPKE-Base-X25519-SHA256-A256GCM';
  } = {},
): Promise<Submitted> {
  const label = opts.label ?? `sec-${randomBytes(4).toString('hex')}`;
  const envelope = opts.hpke
    ? await CryptoHelper.encryptCredentialsHpke(creds, pub, { alg: opts.hpke })
    : await CryptoHelper.encryptCredentials(creds, pub);
  const res = await app.inject({
    method: 'POST',
    url: '/enclave/submit_key',
    payload: { ...envelope, metadata: { exchange: creds.exchange, label, ttl: opts.ttl ?? 3600 } },
  });
  assert.equal(res.statusCode, 200, res.body);
  return { sessionId: (res.json() as { session_id: string }).session_id, creds, label };
}

export async function sessionStatus(
  app: FastifyInstance,
  sessionId: string,
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: `/enclave/sessions/${sessionId}` });
}

// ---------------------------------------------------------------------------------------------
// Roles.

/** A database handle acting as `role`; PostgreSQL errors carry `code` (e.g. 42501). */
export interface RoleSession {
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  close(): Promise<void>;
}

/**
 * Acts as `role` (one of the roles the migration creates). On PGlite: SET ROLE on the service's
 * own single connection (RESET ROLE on close; nothing else may use the database meanwhile). On
 * PostgreSQL: a throwaway LOGIN role that is a member of `role`, and a separate connection
 * logged in as it, so no SET ROLE could be undone from inside; the login role is dropped on close.
 */
export async function actAsRole(
  ts: TestService,
  role: 'operator_readonly' | 'app_service',
): Promise<RoleSession> {
  if (ts.engine === 'pglite') {
    const db = ts.service.db;
    await db.query(`SET ROLE ${role}`);
    const { rows } = await db.query<{ u: string }>('SELECT current_user AS u');
    assert.equal(rows[0]!.u, role);
    return {
      query: (sql, params) => db.query(sql, params),
      close: async () => {
        await db.query('RESET ROLE');
      },
    };
  }
  const login = `sec_${role}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ts.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE ROLE ${login} LOGIN INHERIT IN ROLE ${role}`);
  const url = new URL(ts.databaseUrl!);
  url.username = login;
  url.password = '';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  const { rows } = await client.query<{ u: string; su: boolean }>(
    "SELECT current_user AS u, current_setting('is_superuser')::boolean AS su",
  );
  assert.equal(rows[0]!.u, login);
  assert.equal(rows[0]!.su, false);
  return {
    query: async (sql, params) => ({
      rows: (await client.query(sql, params)).rows as Record<string, unknown>[],
    }),
    close: async () => {
      await client.end();
      await admin.query(`DROP ROLE IF EXISTS ${login}`);
      await admin.end();
    },
  };
}

/** Resolves to the error's SQLSTATE, or fails the test if the statement succeeded. */
export async function sqlState(p: Promise<unknown>, what: string): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
  assert.fail(`expected ${what} to be refused, but it succeeded`);
}

// ---------------------------------------------------------------------------------------------
// Misc.

export function tcpReachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
