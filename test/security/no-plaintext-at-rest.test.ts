/**
 * Property: no plaintext credential is ever at rest on the host. After real submissions (v1 and
 * both HPKE suites, with and without passphrase, across several sessions, one of them revoked
 * and one re-checked by the enclave), no apiKey, apiSecret or passphrase — as UTF-8, hex, or
 * base64/base64url at any byte alignment — appears in any row of any table of the public schema,
 * in any host log line, or (PGlite) in any byte of any file under the service's data folder.
 * Positive controls prove each search actually sees the data it searches.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExchangeCredentials } from '../../src/client/index.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import { uniqueCredentials } from '../helpers/client.js';
import {
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
