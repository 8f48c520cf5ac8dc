/**
 * Issue 13 end to end: two instances on one PostgreSQL with separate data folders (separate
 * simulated machines, separate sealing keys). A runs genesis, B joins through A. Then:
 * register, log in and submit through A, check through B (credential `ok`, login, A's tokens
 * verify at B, the same enclave_pubkey, key_id, JWKS and log key from both); an envelope
 * accepted by A is refused by B (ENVELOPE_REPLAYED); concurrent submits through both leave one
 * linear log (every checkpoint pair consistent, entry count == operations), served whole by
 * either instance.
 */
import { cliSetOperator } from '../auth/operator-helper.js';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as age from 'age-encryption';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { CryptoHelper } from '../../src/client/index.js';
import { clusterSigningKey } from '../../src/cli/cluster.js';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { MerkleTree, verifyConsistency } from '../../src/protocol/log/merkle.js';
import { uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { tcpReachable } from '../helpers/security-util.js';
import { startFakeExchange, type FakeExchange } from '../../devtools/fake-exchange/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { inject, machine, ready } from './cluster-helpers.js';

describe(
  'cluster: two instances on one PostgreSQL',
  {
    skip:
      !process.env.TEST_DATABASE_URL && 'needs TEST_DATABASE_URL (two instances, one PostgreSQL)',
  },
  () => {
    let a: TestService;
    let b: TestService;
    let pubkey: string;
    const password = 'cluster-password-0123';
    const bMachine = machine();
    const cMachine = machine();
    let opToken: string;
    let urlA: string;
    // A rotated JWT key signs at once (no pre-publication), so the test sees its tokens.
    const env: Record<string, string> = {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
      AUTH_KEY_PREPUBLISH_SECONDS: '0',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '2',
      // With Redis the per-IP counters outlive a run: repeated runs must not hit them.
      AUTH_LOGIN_MAX_PER_IP: '1000000',
      AUTH_REGISTER_MAX_PER_IP: '1000000',
    };
    let redis = false;
    let fake: FakeExchange;
    let held: { promise: Promise<void>; release: () => void } | null = null;
    const trader = {
      exchange: 'binance' as const,
      apiKey: `CLUSTERAGG-PLAINTEXT-${Date.now()}`,
      apiSecret: `CLUSTERAGGSECRET-PLAINTEXT-${Date.now()}`,
    };

    const envelope = async () => ({
      ...(await CryptoHelper.encryptCredentials(uniqueCredentials('two'), pubkey)),
      metadata: { exchange: 'binance', label: 'main', ttl: 3600 },
    });

    before(async () => {
      // Login backoff and rate limits are shared through Redis when REDIS_URL is set.
      redis = await tcpReachable('127.0.0.1', 6379);
      fake = await startFakeExchange({
        // While set, trade history answers wait: A's job stays running while B's poller polls.
        hold: ({ path }) => (path === '/api/v3/myTrades' ? held?.promise : undefined),
        accounts: [
          { apiKey: trader.apiKey, secret: trader.apiSecret, seed: 5, fills: 400, days: 60 },
        ],
      });
      env.BINANCE_BASE_URL = fake.url;
      env.AGGREGATES_WAIT_MS = '0';
      if (redis) env.REDIS_URL = 'redis://127.0.0.1:6379';
      // A advertises the URL it will listen on (discovery through the database).
      const port = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as AddressInfo).port;
          srv.close(() => resolve(p));
        });
      });
      urlA = `http://127.0.0.1:${port}`;
      a = await startTestService('postgres', { ...env, CLUSTER_ADVERTISE_URL: urlA });
      await inject(a, 'POST', '/auth/register', { email: 'op@example.com', password });
      await cliSetOperator(a, 'grant', 'op@example.com');
      const op = (
        await inject(a, 'POST', '/auth/login', { email: 'op@example.com', password })
      ).json();
      const keyDir = mkdtempSync(join(tmpdir(), 'cloister-sign-'));
      const operators = [];
      for (const name of ['op1', 'op2', 'op3']) {
        const { signing_key } = clusterSigningKey(join(keyDir, `${name}.key`));
        operators.push({
          name,
          recipient: await age.identityToRecipient(await age.generateX25519Identity()),
          signing_key,
        });
      }
      const g = await inject(
        a,
        'POST',
        '/cluster/genesis',
        {
          operators,
          threshold: 2,
          simulated_vendor_keys: [a.vendorKey, bMachine.vendorKey, cMachine.vendorKey],
        },
        op.access_token,
      );
      assert.equal(g.statusCode, 200, g.body);
      await a.service.app.listen({ port, host: '127.0.0.1' });
      opToken = op.access_token;
      b = await ready(
        await startTestService(
          'postgres',
          { ...env, CLUSTER_JOIN: urlA },
          { dataDir: bMachine.dir, database: { url: a.databaseUrl!, drop: async () => undefined } },
        ),
      );
      pubkey = (await verifiedAttestation(a)).verification.enclavePubkey!;
    });
    after(async () => {
      await b?.stop();
      await a?.stop();
      await fake?.close();
    });

    it('register, log in and submit through A; B reads it, logs the user in and accepts A’s token; same keys', async () => {
      assert.equal(
        (await inject(a, 'POST', '/auth/register', { email: 'u@example.com', password }))
          .statusCode,
        201,
      );
      const tokenA = (
        await inject(a, 'POST', '/auth/login', { email: 'u@example.com', password })
      ).json().access_token as string;
      const sub = await inject(a, 'POST', '/enclave/submit_key', await envelope(), tokenA);
      assert.equal(sub.statusCode, 200, sub.body);
      const sid = sub.json().session_id as string;
      const status = await inject(b, 'GET', `/enclave/sessions/${sid}`, undefined, tokenA);
      assert.equal(status.statusCode, 200, status.body);
      assert.equal(status.json().credential, 'ok');
      const login = await inject(b, 'POST', '/auth/login', { email: 'u@example.com', password });
      assert.equal(login.statusCode, 200, login.body);
      const jwksA = (await inject(a, 'GET', '/.well-known/jwks.json')).json();
      const jwksB = (await inject(b, 'GET', '/.well-known/jwks.json')).json();
      assert.deepEqual(jwksB, jwksA);
      await jwtVerify(tokenA, createLocalJWKSet(jwksB));
      await b.service.authVerifier.verify(tokenA);
      await jwtVerify(login.json().access_token, createLocalJWKSet(jwksA));
      const attA = (await verifiedAttestation(a)).attestation;
      const attB = (await verifiedAttestation(b)).attestation;
      for (const k of ['enclave_pubkey', 'key_id', 'signing_keys', 'cluster_id'])
        assert.deepEqual(attB[k], attA[k], k);
      const cpA = (await inject(a, 'GET', '/api/log/checkpoint')).json();
      const cpB = (await inject(b, 'GET', '/api/log/checkpoint')).json();
      assert.equal(cpB.origin, cpA.origin, 'one log key');
      assert.deepEqual(cpB, cpA, 'B serves the head A wrote');
    });

    it('B rotates the credential and JWT keys; A picks up the new generations (a token and an envelope to B’s new keys)', async () => {
      const before = (await verifiedAttestation(a)).attestation.key_id;
      const keys = await b.service.rotation.rotateOnce();
      assert.notEqual(keys.current_key_id, before);
      const { kid } = await b.service.auth.rotateKeys();
      const login = await inject(b, 'POST', '/auth/login', { email: 'u@example.com', password });
      assert.equal(login.statusCode, 200, login.body);
      const token = login.json().access_token as string;
      const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());
      assert.equal(header.kid, kid, 'signed with B’s new key');
      // A has not reloaded yet: the unknown kid makes it load the newest stored auth keyring.
      const claims = await a.service.authVerifier.verify(token);
      assert.ok(claims.sub);
      // An envelope to B's new credential key, submitted through A.
      const att = (await verifiedAttestation(b)).attestation;
      assert.equal(att.key_id, keys.current_key_id);
      const body = {
        ...(await CryptoHelper.encryptCredentials(uniqueCredentials('rot'), att.enclave_pubkey, {
          keyId: att.key_id,
        })),
        metadata: { exchange: 'binance', label: 'main', ttl: 3600 },
      };
      const res = await inject(a, 'POST', '/enclave/submit_key', body);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().key_id, keys.current_key_id);
      const attA = (await verifiedAttestation(a)).attestation;
      assert.equal(attA.key_id, att.key_id);
      pubkey = att.enclave_pubkey; // the next tests encrypt to the current key
      assert.deepEqual(
        (await inject(a, 'GET', '/.well-known/jwks.json')).json(),
        (await inject(b, 'GET', '/.well-known/jwks.json')).json(),
      );
    });

    it('login backoff is shared through Redis: failures at A lock the account at B', async (t) => {
      if (!redis) return t.skip('no Redis on 127.0.0.1:6379');
      const email = `backoff-${Date.now()}@example.com`;
      await inject(a, 'POST', '/auth/register', { email, password });
      for (let i = 0; i < 2; i++) {
        const wrong = await inject(a, 'POST', '/auth/login', {
          email,
          password: 'wrong-password-0123',
        });
        assert.equal(wrong.statusCode, 401, wrong.body);
      }
      const atB = await inject(b, 'POST', '/auth/login', { email, password });
      assert.equal(atB.statusCode, 429, atB.body);
      assert.equal(atB.json().error.code, 'AUTH_LOGIN_LOCKED');
    });

    it('an aggregates job requested through A is polled through B; B’s poller leaves it to A', async () => {
      const session = async (ts: TestService) => {
        const sub = await inject(ts, 'POST', '/enclave/submit_key', {
          ...(await CryptoHelper.encryptCredentials(trader, pubkey)),
          metadata: { exchange: 'binance', label: 'agg', ttl: 3600 },
        });
        assert.equal(sub.statusCode, 200, sub.body);
        return sub.json().session_id as string;
      };
      const window = { from: '2026-10-02T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z' };
      // What B's enclave is asked to start (B's poller must not restart A's job there).
      const startedAtB: string[] = [];
      const callB = b.service.enclave.call;
      b.service.enclave.call = (async (method: string, params: { job_id?: string }) => {
        if (method === 'aggregates.start') startedAtB.push(params.job_id!);
        return (callB as (m: string, p: unknown) => Promise<unknown>)(method, params);
      }) as typeof callB;
      try {
        const [sa, sb] = [await session(a), await session(b)];
        let release!: () => void;
        held = { promise: new Promise<void>((r) => (release = r)), release };
        const started = await inject(a, 'POST', '/enclave/request_aggregates', {
          session_id: sa,
          ...window,
        });
        assert.ok([200, 202].includes(started.statusCode), started.body);
        const jobId = started.json().job_id as string;
        // A job of B's own keeps B's poller running while A's job runs.
        const own = await inject(b, 'POST', '/enclave/request_aggregates', {
          session_id: sb,
          ...window,
        });
        assert.ok([200, 202].includes(own.statusCode), own.body);
        // B's poller runs (its own job is running) while A's job waits on the exchange.
        await new Promise((r) => setTimeout(r, 1500));
        held.release();
        held = null;
        let polled;
        for (;;) {
          polled = await inject(b, 'GET', `/enclave/aggregates/jobs/${jobId}`);
          if (polled.statusCode !== 202) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(polled.statusCode, 200, polled.body);
        assert.equal(polled.json().status, 'done');
        assert.deepEqual(startedAtB, [own.json().job_id], 'B started only its own job');
      } finally {
        held?.release();
        held = null;
        b.service.enclave.call = callB;
      }
    });

    it('discovery through the database: an instance with no CLUSTER_JOIN joins through a recorded member; operators list members', async () => {
      const c = await ready(
        await startTestService('postgres', env, {
          dataDir: cMachine.dir,
          database: { url: a.databaseUrl!, drop: async () => undefined },
        }),
      );
      try {
        const attA = (await verifiedAttestation(a)).attestation;
        const attC = (await verifiedAttestation(c)).attestation;
        assert.equal(attC.cluster_id, attA.cluster_id);
        assert.equal(attC.key_id, attA.key_id);
        assert.equal((await inject(a, 'GET', '/cluster/members')).statusCode, 401);
        const list = await inject(a, 'GET', '/cluster/members', undefined, opToken);
        assert.equal(list.statusCode, 200, list.body);
        assert.deepEqual(
          list.json().members.map((m: { url: string }) => m.url),
          [urlA],
        );
        assert.equal(list.json().members[0].measurement, a.measurement);
      } finally {
        await c.service.stop();
      }
    });

    it('an envelope accepted by A is refused by B (ENVELOPE_REPLAYED), and the other way round', async () => {
      for (const [first, second] of [
        [a, b],
        [b, a],
      ] as const) {
        const body = await envelope();
        const ok = await inject(first, 'POST', '/enclave/submit_key', body);
        assert.equal(ok.statusCode, 200, ok.body);
        const again = await inject(second, 'POST', '/enclave/submit_key', body);
        assert.equal(again.statusCode, 409, again.body);
        assert.equal(again.json().error.code, 'ENVELOPE_REPLAYED');
      }
    });

    it('concurrent submits through A and B: one linear log, every checkpoint pair consistent, nothing lost', async () => {
      const db = a.service.db;
      const count = async () =>
        Number(
          (
            await db.query<{ n: string }>(
              "SELECT count(*) AS n FROM merkle_logs WHERE event_type = 'credential.submitted'",
            )
          ).rows[0]!.n,
        );
      const before = await count();
      const n = 24;
      const bodies = await Promise.all(Array.from({ length: n }, envelope));
      const results = await Promise.all(
        bodies.map((body, i) => inject(i % 2 ? b : a, 'POST', '/enclave/submit_key', body)),
      );
      for (const r of results) assert.equal(r.statusCode, 200, r.body);
      assert.equal(await count(), before + n, 'entry count == operations');
      // Every checkpoint pair, checked against a tree built from the stored leaves.
      const leaves = (
        await db.query<{ leaf_index: string; leaf_hash: string }>(
          'SELECT leaf_index, leaf_hash FROM merkle_logs ORDER BY leaf_index',
        )
      ).rows;
      const tree = new MerkleTree();
      leaves.forEach((l, i) => {
        assert.equal(Number(l.leaf_index), i, 'no gap, no duplicate index');
        tree.append(Buffer.from(l.leaf_hash, 'hex'));
      });
      for (const ts of [a, b]) {
        const cp = (await inject(ts, 'GET', '/api/log/checkpoint')).json();
        assert.equal(cp.size, leaves.length, 'each instance serves the whole log');
      }
      const cps = (
        await db.query<{ tree_size: string; root_hash: string }>(
          'SELECT tree_size, root_hash FROM log_checkpoints WHERE tree_size > 0 ORDER BY tree_size',
        )
      ).rows.map((r) => ({ size: Number(r.tree_size), root: base64ToBytes(r.root_hash) }));
      for (let i = 1; i < cps.length; i++) {
        const [p, q] = [cps[i - 1]!, cps[i]!];
        // The proof as either instance serves it, checked by the RFC 9162 verifier.
        const served = (
          await inject(
            i % 2 ? b : a,
            'GET',
            `/api/log/proof/consistency?from=${p.size}&to=${q.size}`,
          )
        ).json();
        assert.ok(
          verifyConsistency(p.size, q.size, p.root, q.root, served.proof.map(base64ToBytes)),
          `checkpoint ${p.size} → ${q.size}`,
        );
        assert.deepEqual(q.root, tree.root(q.size));
      }
    });
  },
);
