/**
 * Property: no plaintext credential is ever at rest on the host. After real submissions (v1 and
 * both HPKE suites, with and without passphrase, across several sessions, one of them revoked
 * and one re-checked by the enclave), no apiKey, apiSecret or passphrase — as UTF-8, hex, or
 * base64/base64url at any byte alignment — appears in any row of any table of the public schema,
 * in any host log line, or (PGlite) in any byte of any file under the service's data folder.
 * Positive controls prove each search actually sees the data it searches.
 *
 * The same sweep over the account flows (Operator and data at rest, second review): register,
 * password login, refresh (twice), email-code sign-in, TOTP enrolment and a TOTP login, a
 * recovery-code step-up and logout, with planted values. No password, raw refresh token, access
 * token (nor its signature), TOTP secret, recovery code or mailed code is in any table, log line
 * or (PGlite) database file; the mail drop of the simulated platform (DATA_DIR/mail/) holds the
 * codes by design and is left out. No log line carries the account's email address, and the
 * client's address is only in the host-log-only `auth.request_denied` lines.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TOTP, URI } from 'otpauth';
import type { ExchangeCredentials } from '../../src/client/index.js';
import { mailedCode } from '../helpers/mail.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import {
  bytesNeedles,
  credentialNeedles,
  dumpPublicSchema,
  enclaveKey,
  findNeedles,
  readAllFiles,
  secretNeedles,
  sessionStatus,
  submitOk,
  type Needle,
  type Submitted,
} from '../helpers/security-util.js';

describe('needle search (self-test)', () => {
  it('finds a secret as text, hex, and inside base64/base64url blobs at every alignment', () => {
    const secret = 'APISECRET-PLAINTEXT-selftest-0123456789-s';
    const needles = secretNeedles('s', secret);
    assert.deepEqual(findNeedles(`row(${secret})`, needles), ['s (utf-8)']);
    assert.ok(findNeedles(Buffer.from(secret).toString('hex'), needles).includes('s (hex)'));
    assert.ok(
      findNeedles(Buffer.from(secret).toString('hex').toUpperCase(), needles).includes('s (HEX)'),
    );
    for (let pre = 0; pre < 6; pre++) {
      const blob = Buffer.concat([Buffer.alloc(pre, 0x7b), Buffer.from(secret), Buffer.from('"}')]);
      assert.ok(
        findNeedles(blob.toString('base64'), needles).length > 0,
        `base64, ${pre} bytes before`,
      );
      assert.ok(
        findNeedles(blob.toString('base64url'), needles).length > 0,
        `base64url, ${pre} bytes before`,
      );
    }
    assert.ok(findNeedles(Buffer.from(`xx${secret}yy`), needles).includes('s (utf-8)'));
    assert.deepEqual(findNeedles('APISECRET-PLAINTEXT-other', needles), []);
  });
});

for (const engine of engines()) {
  describe(`no plaintext at rest on ${engine}`, () => {
    let ts: TestService;
    const submitted: Submitted[] = [];
    let needles: Needle[] = [];

    before(async () => {
      ts = await startTestService(engine);
      const { pub } = await enclaveKey(ts);
      const plans: {
        creds: ExchangeCredentials;
        hpke?: 'HPKE-Base-X25519-SHA256-A128GCM' | 'HPKE-Base-X25519-SHA256-A256GCM';
      }[] = [
        { creds: uniqueCredentials('v1a') },
        {
          creds: {
            ...uniqueCredentials('v1b'),
            exchange: 'okx',
            passphrase: `PASSPHRASE-PLAINTEXT-${Date.now()}-v1b-p`,
          },
        },
        { creds: uniqueCredentials('h128'), hpke: 'HPKE-Base-X25519-SHA256-A128GCM' },
        {
          creds: {
            ...uniqueCredentials('h256'),
            exchange: 'coinbase',
            passphrase: `PASSPHRASE-PLAINTEXT-${Date.now()}-h256-p`,
          },
          hpke: 'HPKE-Base-X25519-SHA256-A256GCM',
        },
        { creds: uniqueCredentials('rev') },
      ];
      for (const [i, p] of plans.entries()) {
        submitted.push(
          await submitOk(ts.service.app, pub, p.creds, {
            label: `plain-check-${i}`,
            ...(p.hpke ? { hpke: p.hpke } : {}),
          }),
        );
      }
      // The enclave re-opens every stored envelope (status), and one session is revoked.
      for (const s of submitted) {
        const st = await sessionStatus(ts.service.app, s.sessionId);
        assert.equal(st.json().credential, 'ok', st.body);
      }
      const rev = await ts.service.app.inject({
        method: 'POST',
        url: '/enclave/revoke',
        payload: { session_id: submitted.at(-1)!.sessionId },
      });
      assert.equal(rev.statusCode, 200, rev.body);
      needles = submitted.flatMap((s, i) => credentialNeedles(s.creds, `session${i}`));
      assert.ok(needles.some((n) => n.name.includes('passphrase')));
    });
    after(async () => ts?.stop());

    it('no table row holds a secret in any encoding (every public table dumped)', async () => {
      const dump = await dumpPublicSchema(ts.service.db);
      const tables = dump.map((d) => d.table);
      for (const t of [
        'users',
        'sessions',
        'credentials',
        'aggregates',
        'merkle_logs',
        'log_checkpoints',
        'log_cosignatures',
        'ops_logs',
        'enclave_state',
        'schema_migrations',
      ]) {
        assert.ok(tables.includes(t), `table ${t} was not dumped (got ${tables.join(', ')})`);
      }
      const all = dump.flatMap((d) => d.rows.map((r) => ({ table: d.table, row: r })));
      for (const { table, row } of all) {
        assert.deepEqual(findNeedles(row, needles), [], `secret found in table ${table}`);
      }

      // Positive controls: the dump really holds the sessions, their ciphertext and the sealed keyring.
      const text = all.map((r) => r.row).join('\n');
      for (const s of submitted) {
        assert.ok(text.includes(s.sessionId), 'session id missing from the dump');
        assert.ok(text.includes(s.label), 'label missing from the dump');
      }
      const { rows: cts } = await ts.service.db.query<{ ciphertext: string }>(
        'SELECT ciphertext FROM credentials',
      );
      assert.equal(cts.length, submitted.length - 1);
      for (const { ciphertext } of cts)
        assert.ok(text.includes(ciphertext), 'ciphertext missing from the dump');
      const { rows: sealed } = await ts.service.db.query<{ sealed: string }>(
        'SELECT sealed FROM enclave_state',
      );
      assert.ok(
        sealed.length > 0 && sealed.every((s) => text.includes(s.sealed)),
        'sealed keyring missing from the dump',
      );
    });

    it('no log line holds a secret in any encoding', () => {
      assert.ok(ts.logs.length > 0);
      for (const [i, line] of ts.logs.entries()) {
        assert.deepEqual(findNeedles(line, needles), [], `secret found in log line ${i}`);
      }
      // Positive control: the logs do record the submissions (session ids and labels).
      const text = ts.logs.join('\n');
      for (const s of submitted)
        assert.ok(text.includes(s.sessionId), 'session id missing from the logs');
    });

    it(
      'no file under the data folder holds a secret (PGlite files, simulated platform)',
      {
        skip:
          engine === 'pglite'
            ? false
            : 'the PostgreSQL server keeps its files outside the test data folder',
      },
      async () => {
        // Push everything from shared buffers and WAL into the heap files first.
        await ts.service.db.query('CHECKPOINT');
        const files = readAllFiles(ts.dataDir);
        assert.ok(files.length > 10, `only ${files.length} files under ${ts.dataDir}`);
        let total = 0;
        for (const f of files) {
          total += f.bytes.length;
          assert.deepEqual(findNeedles(f.bytes, needles), [], `secret found in ${f.path}`);
        }
        assert.ok(total > 0);
        // Positive control: the labels (stored as plain text in sessions) are found on disk.
        const all = Buffer.concat(files.map((f) => f.bytes));
        for (const s of submitted)
          assert.ok(all.includes(Buffer.from(s.label)), `label ${s.label} not found on disk`);
      },
    );
  });
}

for (const engine of engines()) {
  describe(`no sign-in secret or token at rest on ${engine}`, () => {
    let ts: TestService;
    const email = 'at-rest.person@example.org';
    const password = `PASSWORD-PLAINTEXT-${Date.now()}-at-rest`;
    const client = '198.51.100.23';
    /** Raw refresh and access tokens, in the order they were issued. */
    const refresh: string[] = [];
    const access: string[] = [];
    const codes: string[] = [];
    let totp: TOTP;
    let recoveryCodes: string[] = [];
    const call = (method: 'POST' | 'DELETE', url: string, payload?: object, token?: string) =>
      ts.service.app.inject({
        method,
        url,
        remoteAddress: client,
        ...(payload ? { payload: payload as Record<string, unknown> } : {}),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const tokens = (r: {
      statusCode: number;
      body: string;
      json(): { refresh_token: string; access_token: string };
    }) => {
      assert.equal(r.statusCode, 200, r.body);
      refresh.push(r.json().refresh_token);
      access.push(r.json().access_token);
      return r.json().access_token;
    };

    before(async () => {
      ts = await startTestService(engine, {
        AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
        AUTH_LOGIN_MAX_PER_IP: '100000',
        AUTH_REGISTER_MAX_PER_IP: '100000',
      });
      assert.equal((await call('POST', '/auth/register', { email, password })).statusCode, 201);
      tokens(await call('POST', '/auth/login', { email, password }));
      tokens(await call('POST', '/auth/refresh', { refresh_token: refresh.at(-1) }));
      tokens(await call('POST', '/auth/refresh', { refresh_token: refresh.at(-1) }));
      // A wrong password: the refusal is logged (with the client's address, host log only).
      const wrong = await call('POST', '/auth/login', { email, password: `${password}-wrong` });
      assert.equal(wrong.statusCode, 401);

      assert.equal((await call('POST', '/auth/otp/start', { email })).statusCode, 202);
      codes.push(await mailedCode(ts.dataDir, /sign-in code is (\d{6})/, email));
      const byCode = tokens(await call('POST', '/auth/otp/verify', { email, code: codes[0] }));

      const enrol = await call('POST', '/auth/totp/enroll', { label: email }, byCode);
      assert.equal(enrol.statusCode, 201, enrol.body);
      totp = URI.parse(enrol.json().otpauth_uri) as TOTP;
      codes.push(totp.generate());
      const confirm = await call('POST', '/auth/totp/confirm', { code: codes.at(-1) }, byCode);
      assert.equal(confirm.statusCode, 200, confirm.body);
      recoveryCodes = confirm.json().recovery_codes;
      const next = totp.generate({ timestamp: Date.now() + 30_000 });
      codes.push(next);
      const mfa = tokens(await call('POST', '/auth/login', { email, password, totp_code: next }));
      tokens(await call('POST', '/auth/step-up', { recovery_code: recoveryCodes[0] }, mfa));
      assert.equal((await call('POST', '/auth/logout', {}, access.at(-1))).statusCode, 200);
    });
    after(async () => ts?.stop());

    const needles = (): Needle[] => [
      ...secretNeedles('password', password),
      ...refresh.flatMap((t, i) => secretNeedles(`refresh token ${i}`, t)),
      ...access.flatMap((t, i) => [
        ...secretNeedles(`access token ${i}`, t),
        { name: `access token ${i} (signature)`, value: t.split('.')[2]! },
      ]),
      ...bytesNeedles('TOTP secret', new Uint8Array(totp.secret.bytes)),
      { name: 'TOTP secret (base32)', value: totp.secret.base32 },
      ...recoveryCodes.flatMap((c, i) => secretNeedles(`recovery code ${i}`, c)),
    ];
    /**
     * The mailed and TOTP codes found as numbers of their own (six digits are everywhere inside
     * others), named by their place, never printed: a failure must not show a code.
     */
    const codeIn = (text: string) =>
      codes.flatMap((c, i) =>
        new RegExp(`(?<![0-9A-Za-z])${c}(?![0-9A-Za-z])`).test(text) ? [`code ${i}`] : [],
      );

    it('no table row holds one (every public table dumped)', async () => {
      assert.equal(refresh.length, 6);
      const dump = (await dumpPublicSchema(ts.service.db))
        .flatMap((d) => d.rows.map((r) => `${d.table}: ${r}`))
        .join('\n');
      assert.ok(dump.includes(email), 'positive control: the account is in the dump');
      assert.ok(dump.includes('auth_totp: '), 'positive control: the TOTP row is in the dump');
      assert.deepEqual(findNeedles(dump, needles()), []);
      assert.deepEqual(codeIn(dump), []);
    });

    it('no log line holds one, nor the email address; the client address only in refusals', () => {
      const logs = ts.logs.join('\n');
      assert.ok(logs.includes('auth.login_succeeded'), 'positive control: the logins are logged');
      assert.deepEqual(findNeedles(logs, needles()), []);
      assert.deepEqual(codeIn(logs), []);
      assert.ok(!logs.toLowerCase().includes(email), 'the email address is in a log line');
      const withAddress = ts.logs.filter((l) => l.includes(client));
      assert.ok(withAddress.length > 0, 'positive control: the refusal names the client');
      for (const l of withAddress) assert.match(l, /"event":"auth\.request_denied"/);
    });

    it(
      'no database file holds one (the simulated mail drop aside)',
      { skip: engine === 'pglite' ? false : 'the PostgreSQL server keeps its files elsewhere' },
      async () => {
        await ts.service.db.query('CHECKPOINT');
        const mail = join(ts.dataDir, 'mail');
        const files = readAllFiles(ts.dataDir).filter((f) => !f.path.startsWith(mail));
        assert.ok(files.length > 10);
        const all = Buffer.concat(files.map((f) => f.bytes));
        assert.ok(all.includes(Buffer.from(email)), 'positive control: the email is on disk');
        for (const f of files)
          assert.deepEqual(findNeedles(f.bytes, needles()), [], `found in ${f.path}`);
      },
    );
  });
}
