/**
 * Wallet custody through the real service (HTTP → host → enclave child → database), on PGlite
 * and PostgreSQL: creation checked with independent code, every signature type verified with
 * independent libraries, policies (and their denial log), the daily limit across a restart,
 * recovery with a time-lock, cancel, reshare, delete then export, owner isolation, bad inputs
 * with stable codes and nothing half-written, and a planted-secret scan of database and logs.
 */
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { getBase58Encoder } from '@solana/kit';
import {
  recoverMessageAddress,
  recoverTransactionAddress,
  recoverTypedDataAddress,
  type Hex,
} from 'viem';
import { exportMnemonic } from '../../src/client/wallet/shares.js';
import {
  assertError,
  dumpPublicSchema,
  findNeedles,
  readAllFiles,
  type Needle,
} from '../helpers/security-util.js';
import { engines, startTestService, type TestService } from '../helpers/service.js';
import {
  MAIL,
  api,
  independentWallet,
  newUser,
  openBoth,
  reply,
  withShare,
  type Opened,
  type User,
} from './service-helpers.js';

const TO = '0x00000000000000000000000000000000000000bb';
// No fee: the daily limit counts value + gas × maxFeePerGas, and these tests count values.
const tx1559 = (value: string, chainId = 1) => ({
  chainId,
  nonce: 0,
  to: TO,
  value,
  data: '0x',
  gas: 21000,
  maxFeePerGas: '0',
  maxPriorityFeePerGas: '0',
});

for (const engine of engines()) {
  describe(`wallet custody through the service (${engine})`, { concurrency: false }, () => {
    let ts: TestService;
    let alice: User;
    let mallory: User;
    let walletId: string;
    let shares: Opened;
    let eth: string;
    let sol: string;
    const planted: Needle[] = [];

    const as = (u: User) => api(ts, u);
    // A binary secret as hex and as base64 at every alignment (as a fragment of a larger blob).
    const plant = (label: string, bytes: Uint8Array) => {
      const b = Buffer.from(bytes);
      planted.push({ name: `${label} (hex)`, value: b.toString('hex') });
      for (let shift = 0; shift < 3; shift++) {
        const chunk = b.subarray(shift, shift + Math.floor((b.length - shift) / 3) * 3);
        planted.push({ name: `${label} (b64 ${shift})`, value: chunk.toString('base64') });
      }
    };

    async function sign(
      share: Uint8Array,
      kind: 'device' | 'recovery',
      address: string,
      request: Record<string, unknown>,
    ) {
      const body = await withShare(ts, walletId, kind, share, 'sign', { address, request });
      return as(alice)('POST', `/wallets/${walletId}/sign`, body);
    }

    const env = {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_REGISTER_MAX_PER_IP: '100000',
      AUTH_LOGIN_MAX_PER_IP: '100000',
    };
    before(async () => {
      // The default time-lock (two days) first; the restart below shortens it to 1 s.
      ts = await startTestService(engine, env);
      alice = await newUser(ts);
      mallory = await newUser(ts);
    });
    after(async () => {
      await ts?.stop();
    });

    it('creates a wallet whose shares combine (independent GF(2^8)) to the addresses it lists', async () => {
      const kp = reply();
      const res = await as(alice)('POST', '/wallets', { label: 'main', reply_pub: kp.replyPub });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json();
      assert.match(body.wallet_id, /^[0-9a-f-]{36}$/);
      assert.equal(typeof body.log.index, 'number');
      shares = openBoth(body, kp.privateKey);
      assert.equal(shares.generation, 1);
      walletId = body.wallet_id;
      const w = independentWallet(shares.device, shares.recovery);
      eth = w.eth(0).address;
      sol = w.solAddress(0);
      assert.deepEqual(body.accounts, [
        { chain: 'ethereum', index: 0, path: "m/44'/60'/0'/0/0", address: eth },
        { chain: 'solana', index: 0, path: "m/44'/501'/0'/0'", address: sol },
      ]);
      plant('entropy', w.entropy);
      plant('seed', w.seed);
      plant('device share', shares.device);
      plant('recovery share', shares.recovery);
      plant('eth key', w.eth(0).getHdKey().privateKey!);
      plant('sol key', w.solKey(0));
      planted.push({ name: 'mnemonic', value: w.mnemonic });
      planted.push({
        name: 'mnemonic words 1-6',
        value: w.mnemonic.split(' ').slice(0, 6).join(' '),
      });
    });

    it('lists and shows the wallet to its owner; anyone else gets 404 on every route', async () => {
      const list = await as(alice)('GET', '/wallets');
      assert.equal(list.statusCode, 200);
      assert.deepEqual(
        list.json().wallets.map((w: { wallet_id: string }) => w.wallet_id),
        [walletId],
      );
      const one = (await as(alice)('GET', `/wallets/${walletId}`)).json();
      assert.equal(one.generation, 1);
      assert.equal(one.recovery, null);
      assert.deepEqual(one.policy, { rules: [] });
      assert.deepEqual((await as(mallory)('GET', '/wallets')).json(), { wallets: [] });
      const m = as(mallory);
      const signBody = await withShare(ts, walletId, 'device', shares.device, 'sign', {
        address: eth,
        request: { type: 'eth_personal_sign', message: 'x' },
      });
      const kp = reply();
      const share = (await withShare(ts, walletId, 'device', shares.device, 'delete', {})).share;
      const attempts: [string, string, object | undefined][] = [
        ['GET', `/wallets/${walletId}`, undefined],
        ['POST', `/wallets/${walletId}/accounts`, { chain: 'ethereum', index: 1 }],
        ['POST', `/wallets/${walletId}/sign`, signBody],
        ['PUT', `/wallets/${walletId}/policy`, { share, rules: [] }],
        ['POST', `/wallets/${walletId}/recovery`, { share, reply_pub: kp.replyPub }],
        ['DELETE', `/wallets/${walletId}/recovery`, { share }],
        ['POST', `/wallets/${walletId}/recovery/complete`, { share, reply_pub: kp.replyPub }],
        ['POST', `/wallets/${walletId}/reshare`, { share, reply_pub: kp.replyPub }],
        ['DELETE', `/wallets/${walletId}`, { share }],
      ];
      for (const [method, url, payload] of attempts) {
        const res = await m(method as 'GET', url, payload);
        assertError(res, 404, 'WALLET_NOT_FOUND', `${method} ${url}`);
      }
      const anon = await ts.service.app.inject({ method: 'GET', url: `/wallets/${walletId}` });
      assertError(anon, 401, 'AUTH_REQUIRED');
    });

    it('signs personal messages, EIP-712, EIP-1559 and legacy transactions; viem recovers the address', async () => {
      const personal = await sign(shares.device, 'device', eth, {
        type: 'eth_personal_sign',
        message: 'hello cloister',
      });
      assert.equal(personal.statusCode, 200, personal.body);
      const sig = personal.json().signature as Hex;
      assert.equal((sig.length - 2) / 2, 65);
      assert.equal(await recoverMessageAddress({ message: 'hello cloister', signature: sig }), eth);

      const typed = await sign(shares.recovery, 'recovery', eth, {
        type: 'eth_typed_data',
        typed_data: MAIL,
      });
      assert.equal(typed.statusCode, 200, typed.body);
      const { EIP712Domain: _d, ...types } = MAIL.types;
      assert.equal(
        await recoverTypedDataAddress({
          domain: MAIL.domain,
          types,
          primaryType: 'Mail',
          message: MAIL.message as never,
          signature: typed.json().signature,
        }),
        eth,
      );

      for (const transaction of [
        tx1559('1000'),
        {
          chainId: 1,
          nonce: 1,
          to: TO,
          value: '0x10',
          data: '0x',
          gas: 21000,
          gasPrice: '0', // no fee, as tx1559
        },
      ]) {
        const res = await sign(shares.device, 'device', eth, {
          type: 'eth_transaction',
          transaction,
        });
        assert.equal(res.statusCode, 200, res.body);
        const { signed_transaction, hash } = res.json();
        assert.match(hash, /^0x[0-9a-f]{64}$/);
        assert.equal(
          await recoverTransactionAddress({ serializedTransaction: signed_transaction }),
          eth,
        );
      }
    });

    it('signs a Solana message; WebCrypto Ed25519 verifies it under the listed address', async () => {
      const msg = new TextEncoder().encode('sign in to cloister');
      const res = await sign(shares.device, 'device', sol, {
        type: 'sol_message',
        message: Buffer.from(msg).toString('base64'),
      });
      assert.equal(res.statusCode, 200, res.body);
      const pub = new Uint8Array(getBase58Encoder().encode(sol));
      const key = await webcrypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, [
        'verify',
      ]);
      const sigBytes = new Uint8Array(getBase58Encoder().encode(res.json().signature));
      assert.ok(await webcrypto.subtle.verify({ name: 'Ed25519' }, key, sigBytes, msg));
    });

    it('adds accounts: Ethereum from the xpub without a share, Solana with one', async () => {
      const e = await as(alice)('POST', `/wallets/${walletId}/accounts`, {
        chain: 'ethereum',
        index: 3,
      });
      assert.equal(e.statusCode, 200, e.body);
      const w = independentWallet(shares.device, shares.recovery);
      assert.equal(e.json().address, w.eth(3).address);
      const noShare = await as(alice)('POST', `/wallets/${walletId}/accounts`, {
        chain: 'solana',
        index: 2,
      });
      assertError(noShare, 400, 'WALLET_SHARE_INVALID');
      const body = await withShare(ts, walletId, 'device', shares.device, 'account', {
        chain: 'solana',
        index: 2,
      });
      const s = await as(alice)('POST', `/wallets/${walletId}/accounts`, body);
      assert.equal(s.statusCode, 200, s.body);
      assert.equal(s.json().address, w.solAddress(2));
      assert.equal(s.json().path, "m/44'/501'/2'/0'");
      const shown = (await as(alice)('GET', `/wallets/${walletId}`)).json();
      assert.equal(shown.accounts.length, 4);
    });

    it('bad inputs get stable 4xx codes and change nothing', async () => {
      const before = (await as(alice)('GET', `/wallets/${walletId}`)).json();
      const request = { type: 'eth_personal_sign', message: 'x' };
      const cases: [string, () => Promise<Record<string, unknown>>, number, string][] = [
        [
          'share of another wallet',
          () =>
            withShare(
              ts,
              walletId,
              'device',
              shares.device,
              'sign',
              { address: eth, request },
              {
                walletIdInside: '00000000-0000-4000-8000-000000000000',
              },
            ),
          400,
          'WALLET_SHARE_WRONG_WALLET',
        ],
        [
          'corrupted share',
          () => {
            const bad = Uint8Array.from(shares.device);
            bad[0]! ^= 1;
            return withShare(ts, walletId, 'device', bad, 'sign', { address: eth, request });
          },
          400,
          'WALLET_SHARE_INVALID',
        ],
        [
          'share bound to another body',
          () =>
            withShare(
              ts,
              walletId,
              'device',
              shares.device,
              'sign',
              { address: eth, request },
              {
                sealFor: { address: eth, request: { type: 'eth_personal_sign', message: 'y' } },
              },
            ),
          400,
          'WALLET_BINDS_MISMATCH',
        ],
        [
          'unknown request type',
          () =>
            withShare(ts, walletId, 'device', shares.device, 'sign', {
              address: eth,
              request: { type: 'btc_sign', message: 'x' },
            }),
          400,
          'WALLET_REQUEST_INVALID',
        ],
        [
          'invalid transaction (both fee models)',
          () =>
            withShare(ts, walletId, 'device', shares.device, 'sign', {
              address: eth,
              request: {
                type: 'eth_transaction',
                transaction: { ...tx1559('1'), gasPrice: '1' },
              },
            }),
          400,
          'WALLET_REQUEST_INVALID',
        ],
        [
          'chain id 0',
          () =>
            withShare(ts, walletId, 'device', shares.device, 'sign', {
              address: eth,
              request: { type: 'eth_transaction', transaction: tx1559('1', 0) },
            }),
          400,
          'WALLET_REQUEST_INVALID',
        ],
        [
          'request of the other chain',
          () =>
            withShare(ts, walletId, 'device', shares.device, 'sign', {
              address: sol,
              request,
            }),
          400,
          'WALLET_REQUEST_INVALID',
        ],
        [
          'unknown address',
          () =>
            withShare(ts, walletId, 'device', shares.device, 'sign', {
              address: TO,
              request,
            }),
          400,
          'WALLET_ADDRESS_UNKNOWN',
        ],
      ];
      for (const [what, make, status, code] of cases) {
        const res = await as(alice)('POST', `/wallets/${walletId}/sign`, await make());
        assertError(res, status, code as never, what);
      }
      // Wrong share kind for the policy action; replaying an envelope.
      const policyBody = await withShare(ts, walletId, 'recovery', shares.recovery, 'policy', {
        rules: [],
      });
      assertError(
        await as(alice)('PUT', `/wallets/${walletId}/policy`, policyBody),
        400,
        'WALLET_SHARE_WRONG_KIND',
      );
      const once = await withShare(ts, walletId, 'device', shares.device, 'sign', {
        address: eth,
        request,
      });
      assert.equal((await as(alice)('POST', `/wallets/${walletId}/sign`, once)).statusCode, 200);
      assertError(
        await as(alice)('POST', `/wallets/${walletId}/sign`, once),
        409,
        'ENVELOPE_REPLAYED',
      );
      assert.deepEqual((await as(alice)('GET', `/wallets/${walletId}`)).json(), before);
    });

    it('a policy over the limit is refused with 403 POLICY_DENIED naming the rule, and logged', async () => {
      const rules = [
        { type: 'allowed_chain_ids', values: [1] },
        { type: 'max_value_wei', value: '1000' },
        { type: 'daily_limit_wei', value: '2500' },
      ];
      const body = await withShare(ts, walletId, 'device', shares.device, 'policy', { rules });
      const set = await as(alice)('PUT', `/wallets/${walletId}/policy`, body);
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual(set.json().policy.rules, rules);

      const over = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('1001'),
      });
      assertError(over, 403, 'POLICY_DENIED');
      assert.deepEqual(over.json().error.details, [{ path: 'rules.1', issue: 'max_value_wei' }]);
      const wrongChain = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('1', 5),
      });
      assertError(wrongChain, 403, 'POLICY_DENIED');
      assert.deepEqual(wrongChain.json().error.details, [
        { path: 'rules.0', issue: 'allowed_chain_ids' },
      ]);
      const { rows } = await ts.service.db.query<{ entry: string }>(
        `SELECT entry FROM merkle_logs WHERE event_type = 'wallet.signed' ORDER BY leaf_index`,
      );
      const denied = rows
        .map((r) => JSON.parse(r.entry))
        .filter((e) => e.wallet.verdict === 'denied');
      assert.deepEqual(
        denied.map((e) => e.wallet.rule),
        ['max_value_wei', 'allowed_chain_ids'],
      );
      assert.ok(
        denied.every((e) => e.wallet.address === eth && /^[0-9a-f]{64}$/.test(e.digests.payload)),
      );

      const ok = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('1000'),
      });
      assert.equal(ok.statusCode, 200, ok.body);
    });

    it('recovery is time-locked (default delay) and the owner cancels it with the device share', async () => {
      const kp = reply();
      const start = async () => {
        const b = await withShare(ts, walletId, 'recovery', shares.recovery, 'recovery', {
          reply_pub: kp.replyPub,
        });
        return as(alice)('POST', `/wallets/${walletId}/recovery`, b);
      };
      const started = await start();
      assert.equal(started.statusCode, 200, started.body);
      const { started_at, unlock_at } = started.json().recovery;
      assert.equal(unlock_at - started_at, 172800);
      assert.deepEqual(
        (await as(alice)('GET', `/wallets/${walletId}`)).json().recovery,
        started.json().recovery,
      );
      assertError(await start(), 409, 'WALLET_RECOVERY_IN_PROGRESS');
      const b = await withShare(ts, walletId, 'recovery', shares.recovery, 'recovery_complete', {
        reply_pub: kp.replyPub,
      });
      assertError(
        await as(alice)('POST', `/wallets/${walletId}/recovery/complete`, b),
        409,
        'WALLET_RECOVERY_LOCKED',
      );
      // A recovery share cannot cancel (only the device share can).
      const byRecovery = await withShare(
        ts,
        walletId,
        'recovery',
        shares.recovery,
        'recovery_cancel',
        {},
      );
      assertError(
        await as(alice)('DELETE', `/wallets/${walletId}/recovery`, byRecovery),
        400,
        'WALLET_SHARE_WRONG_KIND',
      );
      const cancelBody = await withShare(
        ts,
        walletId,
        'device',
        shares.device,
        'recovery_cancel',
        {},
      );
      const cancelled = await as(alice)('DELETE', `/wallets/${walletId}/recovery`, cancelBody);
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.equal(cancelled.json().recovery, null);
      assertError(
        await as(alice)(
          'DELETE',
          `/wallets/${walletId}/recovery`,
          await withShare(ts, walletId, 'device', shares.device, 'recovery_cancel', {}),
        ),
        409,
        'WALLET_RECOVERY_NOT_STARTED',
      );
    });

    it('the daily limit counts what was signed and survives a service restart', async () => {
      ts = await ts.restart({ ...env, WALLET_RECOVERY_DELAY_SECONDS: '1' });
      const res = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('600'),
      });
      assertError(res, 403, 'POLICY_DENIED');
      assert.deepEqual(res.json().error.details, [{ path: 'rules.2', issue: 'daily_limit_wei' }]);
      const fits = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('400'),
      });
      assert.equal(fits.statusCode, 200, fits.body);
    });

    it('a host-edited policy or spend counter is refused (enclave MAC)', async () => {
      await ts.service.db.query(`UPDATE wallets SET policy_rules = '[]' WHERE id = $1`, [walletId]);
      const edited = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('1'),
      });
      assertError(edited, 409, 'WALLET_STATE_INVALID');
      // Put the enclave's rules back (same JSON text the service wrote).
      await ts.service.db.query(`UPDATE wallets SET policy_rules = $2 WHERE id = $1`, [
        walletId,
        JSON.stringify([
          { type: 'allowed_chain_ids', values: [1] },
          { type: 'max_value_wei', value: '1000' },
          { type: 'daily_limit_wei', value: '2500' },
        ]),
      ]);
      await ts.service.db.query(
        `UPDATE wallet_daily_spend SET spent_wei = 0 WHERE wallet_id = $1`,
        [walletId],
      );
      const reset = await sign(shares.device, 'device', eth, {
        type: 'eth_transaction',
        transaction: tx1559('1'),
      });
      assertError(reset, 409, 'WALLET_STATE_INVALID');
    });

    it('recovery after the time-lock (1 s) re-splits the same secret; the old shares sign nothing', async () => {
      // Restore the counter row the previous test edited (its MAC no longer matches).
      await ts.service.db.query(`DELETE FROM wallet_daily_spend WHERE wallet_id = $1`, [walletId]);
      const kp = reply();
      const b = await withShare(ts, walletId, 'recovery', shares.recovery, 'recovery', {
        reply_pub: kp.replyPub,
      });
      const started = await as(alice)('POST', `/wallets/${walletId}/recovery`, b);
      assert.equal(started.statusCode, 200, started.body);
      assert.equal(started.json().recovery.unlock_at - started.json().recovery.started_at, 1);
      await sleep(2100); // past unlock_at whatever the sub-second phase of the enclave's clock
      const c = await withShare(ts, walletId, 'recovery', shares.recovery, 'recovery_complete', {
        reply_pub: kp.replyPub,
      });
      const done = await as(alice)('POST', `/wallets/${walletId}/recovery/complete`, c);
      assert.equal(done.statusCode, 200, done.body);
      const next = openBoth(done.json(), kp.privateKey);
      assert.equal(next.generation, 2);
      assert.equal(done.json().generation, 2);
      assert.equal((await as(alice)('GET', `/wallets/${walletId}`)).json().recovery, null);
      // Same secret: same addresses from the new shares.
      assert.equal(independentWallet(next.device, next.recovery).eth(0).address, eth);
      const old = await sign(shares.device, 'device', eth, {
        type: 'eth_personal_sign',
        message: 'x',
      });
      assertError(old, 400, 'WALLET_SHARE_INVALID');
      const fresh = await sign(next.device, 'device', eth, {
        type: 'eth_personal_sign',
        message: 'x',
      });
      assert.equal(fresh.statusCode, 200, fresh.body);
      plant('device share g2', next.device);
      plant('recovery share g2', next.recovery);
      shares = next;
    });

    it('reshare with the device share: generation + 1, the old shares refused, no rollback', async () => {
      const saved = (
        await ts.service.db.query<Record<string, unknown>>(
          // Every MACed column, authorized_at included (else the restored row's MAC only holds
          // when the reshare below falls in the same second as the last change).
          'SELECT generation, version, server_share, accounts, policy_rules, authorized_at, state_mac, share_digests FROM wallets WHERE id = $1',
          [walletId],
        )
      ).rows[0]!;
      const kp = reply();
      const b = await withShare(ts, walletId, 'device', shares.device, 'reshare', {
        reply_pub: kp.replyPub,
      });
      const res = await as(alice)('POST', `/wallets/${walletId}/reshare`, b);
      assert.equal(res.statusCode, 200, res.body);
      const next = openBoth(res.json(), kp.privateKey);
      assert.equal(next.generation, 3);
      // Rollback: the host puts the previous row (valid MAC, generation 2) back. The enclave has
      // issued a newer version since it started and refuses it.
      const cols =
        'generation, version, server_share, accounts, policy_rules, authorized_at, state_mac, share_digests';
      const current = (
        await ts.service.db.query<Record<string, unknown>>(
          `SELECT ${cols} FROM wallets WHERE id = $1`,
          [walletId],
        )
      ).rows[0]!;
      const restore = (row: Record<string, unknown>) =>
        ts.service.db.query(
          `UPDATE wallets SET generation = $2, version = $3, server_share = $4, accounts = $5,
             policy_rules = $6, authorized_at = $7, state_mac = $8, share_digests = $9
           WHERE id = $1`,
          [
            walletId,
            row.generation,
            row.version,
            row.server_share,
            row.accounts,
            row.policy_rules,
            row.authorized_at,
            row.state_mac,
            row.share_digests,
          ],
        );
      await restore(saved);
      const rolledBack = await sign(shares.device, 'device', eth, {
        type: 'eth_personal_sign',
        message: 'x',
      });
      assertError(rolledBack, 409, 'WALLET_STATE_STALE');
      await restore(current);
      const old = await sign(shares.recovery, 'recovery', eth, {
        type: 'eth_personal_sign',
        message: 'x',
      });
      assertError(old, 400, 'WALLET_SHARE_INVALID');
      plant('device share g3', next.device);
      plant('recovery share g3', next.recovery);
      shares = next;
    });

    it('delete purges the server share (logged); the owner still exports with the other two shares', async () => {
      const b = await withShare(ts, walletId, 'device', shares.device, 'delete', {});
      const res = await as(alice)('DELETE', `/wallets/${walletId}`, b);
      assert.equal(res.statusCode, 200, res.body);
      assertError(await as(alice)('GET', `/wallets/${walletId}`), 404, 'WALLET_NOT_FOUND');
      const { rows } = await ts.service.db.query<{ server_share: string | null }>(
        'SELECT server_share FROM wallets WHERE id = $1',
        [walletId],
      );
      assert.equal(rows[0]!.server_share, null);
      const mnemonic = await exportMnemonic(shares.device, shares.recovery);
      assert.equal(mnemonic, independentWallet(shares.device, shares.recovery).mnemonic);
      const types = (
        await ts.service.db.query<{ event_type: string }>(
          `SELECT event_type FROM merkle_logs WHERE event_type LIKE 'wallet.%' ORDER BY leaf_index`,
        )
      ).rows.map((r) => r.event_type);
      for (const t of [
        'wallet.created',
        'wallet.signed',
        'wallet.policy_set',
        'wallet.recovery_started',
        'wallet.recovery_cancelled',
        'wallet.recovered',
        'wallet.reshared',
        'wallet.deleted',
      ])
        assert.ok(types.includes(t), t);
    });

    it('no share, entropy, seed, mnemonic or private key in the database, its files, the logs or the process environments', async () => {
      const dump = JSON.stringify(await dumpPublicSchema(ts.service.db));
      assert.deepEqual(findNeedles(dump, planted), [], 'database rows');
      for (const f of readAllFiles(ts.dataDir))
        assert.deepEqual(findNeedles(f.bytes, planted), [], f.path);
      assert.deepEqual(findNeedles(ts.logs.join('\n'), planted), [], 'logs');
      // The environments of the host and the enclave process.
      const pid = ts.service.enclave.pid();
      for (const p of ['/proc/self/environ', ...(pid ? [`/proc/${pid}/environ`] : [])])
        assert.deepEqual(findNeedles(readFileSync(p), planted), [], p);
    });
  });
}
