/**
 * Client SDK and CLI second attack review: `cloister wallet list` (and the SDK's listWallets)
 * showed whatever accounts the host stores or answers. The enclave now signs each wallet's
 * account list bound to the digests of the generation's two client shares (`accounts_signature`,
 * `share_digests`), and `verifyAccounts` / `wallet list --device-file` check both against the
 * user's own share. Attacks: an address swapped in the database row, one swapped in the HTTP
 * answer, and a look-alike wallet the host had the enclave create under the victim's ids (a
 * genuine signature, over the host's share digests). A wallet split before the signature was
 * kept is shown unverified until its next re-split.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { readShareFile } from '../../src/cli/share-file.js';
import { addAccount, listWallets } from '../../src/client/wallet/http.js';
import { verifyAccounts } from '../../src/client/wallet/shares.js';
import { encryptWalletShare } from '../../src/client/wallet/encrypt-share.js';
import { newReplyKeyPair, openSealedShare } from '../../src/client/wallet/open-share.js';
import { walletAddAccount, walletCreate, walletResplit } from '../../src/enclave/methods/wallet.js';
import { signRecord } from '../../src/enclave/wallet/state-mac.js';
import type { WalletRecord } from '../../src/protocol/rpc/wallet-methods.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { verifiedAttestation } from '../helpers/client.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { ok } from '../mutation-killers/rpc.js';
import { runCli } from '../cli/run.js';
import { newUser, reply, sdkOptions, type User } from './service-helpers.js';

const OTHER = '0x00000000000000000000000000000000000000bb';

describe('listed wallet accounts the host swaps', { concurrency: false }, () => {
  let ts: TestService;
  let user: User;
  let dir: string;
  let port: number;
  let resultsKey: string;
  let walletId: string;
  let device: { kind: 'device'; share: Uint8Array; walletId: string; generation: number };
  /** Rewrites GET /wallets answers on the way to the CLI (a proxy in front of the service). */
  let rewrite: ((body: string) => string) | undefined;
  let proxy: Server;
  let proxyPort: number;

  const env = () => ({
    ...process.env,
    CLOISTER_ACCESS_TOKEN: user.token,
    CLOISTER_DEVICE_PASSPHRASE: 'device passphrase 1',
    CLOISTER_RECOVERY_PASSPHRASE: 'recovery passphrase 2',
  });
  const cli = async (viaProxy: boolean, ...args: string[]) => {
    const base = [
      '--url',
      `http://127.0.0.1:${viaProxy ? proxyPort : port}`,
      '--expect-measurement',
      ts.measurement,
      '--trust-simulated-key',
      ts.vendorKey,
      '--json',
    ];
    return runCli(['wallet', ...args, ...base], env());
  };
  const listWithDevice = async (viaProxy = false) => {
    const r = await cli(viaProxy, 'list', '--device-file', join(dir, 'device.json'));
    assert.equal(r.code, 0, r.stderr);
    const mine = (JSON.parse(r.stdout) as { wallet_id: string; verified: boolean }[]).find(
      (w) => w.wallet_id === walletId,
    )!;
    return { verified: mine.verified, stderr: r.stderr };
  };
  const sdkList = async (swap?: (body: string) => unknown) => {
    const opts = await sdkOptions(ts, user, (path, _status, body) =>
      path === '/wallets' && swap ? swap(body) : undefined,
    );
    const mine = (await listWallets(opts)).find((w) => w.wallet_id === walletId)!;
    return verifyAccounts(mine, device, resultsKey);
  };
  const row = async () =>
    (
      await ts.service.db.query<{ accounts: string }>(
        'SELECT accounts FROM wallets WHERE id = $1',
        [walletId],
      )
    ).rows[0]!;
  const swapped = (accounts: string) =>
    JSON.stringify(
      (JSON.parse(accounts) as { address: string }[]).map((a, i) =>
        i === 0 ? { ...a, address: OTHER } : a,
      ),
    );

  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    port = (ts.service.app.server.address() as { port: number }).port;
    user = await newUser(ts);
    resultsKey = (await verifiedAttestation(ts)).verification.signingKeys!.results;
    dir = mkdtempSync(join(tmpdir(), 'cloister-wallet-accounts-'));
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const body = Buffer.concat(chunks);
          const upstream = await fetch(`http://127.0.0.1:${port}${req.url}`, {
            method: req.method!,
            headers: req.headers as Record<string, string>,
            ...(body.length > 0 ? { body } : {}),
          });
          let text = await upstream.text();
          if (req.url === '/wallets' && rewrite) text = rewrite(text);
          res.writeHead(upstream.status, { 'content-type': 'application/json' });
          res.end(text);
        })();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyPort = (proxy.address() as { port: number }).port;

    // The honest flow: create (CLI), add an account (SDK), list verifies.
    const created = await cli(
      false,
      'create',
      '--device-file',
      join(dir, 'device.json'),
      '--recovery-file',
      join(dir, 'recovery.json'),
    );
    assert.equal(created.code, 0, created.stderr);
    walletId = JSON.parse(created.stdout).wallet_id;
    const f = await readShareFile(join(dir, 'device.json'), 'device passphrase 1');
    device = { kind: 'device', share: f.share, walletId: f.walletId, generation: f.generation };
  });
  after(async () => {
    await new Promise((resolve) => proxy?.close(resolve));
    await ts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('honest create → add account → list verifies (SDK and CLI)', async () => {
    const opts = { ...(await sdkOptions(ts, user)), resultsKey };
    const added = await addAccount(opts, walletId, 'ethereum', 1);
    assert.equal(typeof added.accounts_signature, 'string');
    const listed = await sdkList();
    assert.equal(listed.accounts.length, 3);
    assert.equal(listed.verified, true);
    // The add-account answer's signature is the list's.
    assert.equal(added.accounts_signature, listed.accounts_signature);
    const c = await listWithDevice();
    assert.equal(c.verified, true);
    assert.doesNotMatch(c.stderr, /not verified/);
    // Without a share file nothing is verified, and the CLI says so.
    const bare = await cli(false, 'list');
    assert.equal(JSON.parse(bare.stdout)[0].verified, false);
    assert.match(bare.stderr, /not verified/);
  });

  it('an address swapped in the database row is detected', async () => {
    const before = (await row()).accounts;
    await ts.service.db.query('UPDATE wallets SET accounts = $2 WHERE id = $1', [
      walletId,
      swapped(before),
    ]);
    try {
      const listed = await sdkList();
      assert.equal(listed.accounts[0]!.address, OTHER);
      assert.equal(listed.verified, false);
      const c = await listWithDevice();
      assert.equal(c.verified, false);
      assert.match(c.stderr, /not verified/);
    } finally {
      await ts.service.db.query('UPDATE wallets SET accounts = $2 WHERE id = $1', [
        walletId,
        before,
      ]);
    }
    assert.equal((await sdkList()).verified, true);
  });

  it('an address swapped in the HTTP answer is detected', async () => {
    const swap = (body: string) => {
      const r = JSON.parse(body) as { wallets: { accounts: unknown[] }[] };
      for (const w of r.wallets) w.accounts = JSON.parse(swapped(JSON.stringify(w.accounts)));
      return r;
    };
    assert.equal((await sdkList(swap)).verified, false);
    rewrite = (text) => JSON.stringify(swap(text));
    try {
      assert.equal((await listWithDevice(true)).verified, false);
    } finally {
      rewrite = undefined;
    }
    assert.equal((await listWithDevice(true)).verified, true, 'the proxy relays as is');
  });

  it('a look-alike wallet the host created under the victim’s ids is detected', async () => {
    // The host asks the enclave itself: a genuine record and signature, over its own shares.
    const hostReply = reply();
    const enclave = ts.service.enclave as unknown as {
      call: (
        m: string,
        p: unknown,
      ) => Promise<{
        record: WalletRecord;
        shares: { device: unknown };
        accounts_signature: string;
      }>;
    };
    const fake = await enclave.call('wallet.create', {
      user_id: user.id,
      wallet_id: walletId,
      reply_pub: hostReply.replyPub,
    });
    const saved = (
      await ts.service.db.query<Record<string, string>>(
        'SELECT accounts, generation, share_digests, accounts_signature FROM wallets WHERE id = $1',
        [walletId],
      )
    ).rows[0]!;
    await ts.service.db.query(
      `UPDATE wallets SET accounts = $2, generation = $3, share_digests = $4,
         accounts_signature = $5 WHERE id = $1`,
      [
        walletId,
        JSON.stringify(fake.record.accounts),
        fake.record.generation,
        JSON.stringify(fake.record.share_digests),
        fake.accounts_signature,
      ],
    );
    try {
      const listed = await sdkList();
      assert.deepEqual(listed.accounts, fake.record.accounts);
      assert.equal(listed.verified, false);
      // The signature itself is genuine: the host's own share verifies it.
      const hostDevice = openSealedShare(fake.shares.device, hostReply.privateKey);
      assert.equal(verifyAccounts(listed, hostDevice, resultsKey).verified, true);
      assert.equal((await listWithDevice()).verified, false);
    } finally {
      await ts.service.db.query(
        `UPDATE wallets SET accounts = $2, generation = $3, share_digests = $4,
           accounts_signature = $5 WHERE id = $1`,
        [walletId, saved.accounts, saved.generation, saved.share_digests, saved.accounts_signature],
      );
    }
  });

  it('a wallet split before the signature was kept (no digests) shows unverified', async () => {
    const saved = (
      await ts.service.db.query<Record<string, string>>(
        'SELECT share_digests, accounts_signature FROM wallets WHERE id = $1',
        [walletId],
      )
    ).rows[0]!;
    await ts.service.db.query(
      'UPDATE wallets SET share_digests = NULL, accounts_signature = NULL WHERE id = $1',
      [walletId],
    );
    try {
      const listed = await sdkList();
      assert.equal(listed.share_digests, null);
      assert.equal(listed.verified, false);
      assert.equal((await listWithDevice()).verified, false);
    } finally {
      await ts.service.db.query(
        'UPDATE wallets SET share_digests = $2, accounts_signature = $3 WHERE id = $1',
        [walletId, saved.share_digests, saved.accounts_signature],
      );
    }
  });
});

describe('a record made before share digests were kept', () => {
  it('still passes its MAC, gets no accounts signature, and is signed at its next re-split', async () => {
    const t = testEnclave({ bootAt: Math.floor(Date.now() / 1000) - 3600 });
    const g = await ok(t, 'keyring.generate', { policy: 'signer' });
    await ok(t, 'wallet.init', { sealed: null });
    t.clock.now = Math.floor(Date.now() / 1000);
    const key = g.public.credential_keys.find((k) => k.key_id === g.public.current_key_id)!;
    const resultsKey = g.public.signing_keys.results;
    const walletId = randomUUID();
    const kp = newReplyKeyPair();
    const created = await walletCreate(t.state, {
      user_id: 'u',
      wallet_id: walletId,
      reply_pub: kp.replyPub,
    });
    // The same record as the enclave issued it before this change: no share_digests, its MAC.
    const { mac: _m, share_digests: _d, ...rest } = created.record;
    const old: WalletRecord = signRecord(t.state.keyrings.wallet.active!.macKey, rest);
    const added = await walletAddAccount(t.state, {
      record: old,
      body: { chain: 'ethereum', index: 1 },
    });
    assert.equal(added.record.accounts.length, 3);
    assert.equal(added.accounts_signature, undefined);

    const deviceShare = openSealedShare(created.shares.device, kp.privateKey);
    const next = newReplyKeyPair();
    const body = { reply_pub: next.replyPub };
    const sealed = await encryptWalletShare(
      {
        walletId,
        kind: 'device',
        share: Uint8Array.from(deviceShare.share),
        action: 'reshare',
        body,
      },
      key.public_key,
      { keyId: key.key_id, issuedAt: t.clock.now },
    );
    const r = await walletResplit(t.state, {
      record: added.record,
      body: { ...body, share: sealed },
      mode: 'reshare',
    });
    const newDevice = openSealedShare(r.shares.device, next.privateKey);
    const view = {
      wallet_id: walletId,
      generation: r.record.generation,
      accounts: r.record.accounts,
      share_digests: r.record.share_digests ?? null,
      accounts_signature: r.accounts_signature,
    };
    assert.equal(verifyAccounts(view, newDevice, resultsKey).verified, true);
    // The old generation's share matches no digest of the new one.
    assert.equal(verifyAccounts(view, deviceShare, resultsKey).verified, false);
  });
});
