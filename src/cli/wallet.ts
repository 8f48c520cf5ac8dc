/**
 * `cloister wallet ...` (docs/protocol/wallet-shares.md), on the SDK:
 *   wallet create  --label L --device-file F --recovery-file R
 *   wallet list    [--device-file F]      (checks the listed addresses of F's wallet)
 *   wallet sign    --wallet ID --address A --request JSON|@file --device-file F
 *   wallet policy  --wallet ID --rules JSON|@file --device-file F
 *   wallet recover start|complete --recovery-file R [--device-file F]
 *   wallet recover cancel --device-file F
 *   wallet export  --device-file F --recovery-file R          (no server: prints the mnemonic)
 * Common: --url U --expect-measurement H [--trust-simulated-key-file K] (attested before any
 * share is sealed). The access token comes from CLOISTER_ACCESS_TOKEN; the passphrases from
 * CLOISTER_DEVICE_PASSPHRASE and CLOISTER_RECOVERY_PASSPHRASE (never argv). Share files are
 * Argon2id + AES-256-GCM, mode 0600 (share-file.ts); a re-split rewrites both files.
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  cancelRecovery,
  completeRecovery,
  createWallet,
  exportMnemonic,
  getWallet,
  listWallets,
  setPolicy,
  signWithShare,
  startRecovery,
  verifyAccounts,
  WalletApiError,
  type ClientShare,
  type WalletClientOptions,
  type WalletShares,
} from '../client/index.js';
import { readShareFile, writeShareFile } from './share-file.js';
import { printer, warn } from './output.js';
import { refusalHint } from './credentials.js';
import { attest } from './trust.js';

class Usage extends Error {}

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Usage(`set ${name} in the environment`);
  return v;
}

function need(v: string | undefined, option: string): string {
  if (!v) throw new Usage(`${option} is required`);
  return v;
}

const jsonArg = (v: string) => JSON.parse(v.startsWith('@') ? readFileSync(v.slice(1), 'utf8') : v);

/** The share file's wallet is the one acted on; `--wallet`, when given, must name it. */
async function loadShare(path: string, kind: 'device' | 'recovery', wallet?: string) {
  const passphrase = env(
    kind === 'device' ? 'CLOISTER_DEVICE_PASSPHRASE' : 'CLOISTER_RECOVERY_PASSPHRASE',
  );
  const f = await readShareFile(path, passphrase);
  if (f.kind !== kind) throw new Usage(`${path} holds a ${f.kind} share, not a ${kind} share`);
  if (wallet !== undefined && wallet !== f.walletId)
    throw new Usage(`${path} holds a share of wallet ${f.walletId}, not of --wallet ${wallet}`);
  return f;
}

async function saveShares(w: WalletShares, device: string, recovery: string, overwrite: boolean) {
  await writeShareFile(
    device,
    env('CLOISTER_DEVICE_PASSPHRASE'),
    { walletId: w.walletId, kind: 'device', generation: w.generation, share: w.device.share },
    { overwrite },
  );
  await writeShareFile(
    recovery,
    env('CLOISTER_RECOVERY_PASSPHRASE'),
    { walletId: w.walletId, kind: 'recovery', generation: w.generation, share: w.recovery.share },
    { overwrite },
  );
  w.device.share.fill(0);
  w.recovery.share.fill(0);
}

/** The options of every `cloister wallet` command (commander's camelCase names). */
export interface WalletOptions {
  url: string;
  expectMeasurement?: string[];
  trustSimulatedKey?: string[];
  trustSimulatedKeyFile?: string[];
  expectCluster?: string;
  wallet?: string;
  label?: string;
  address?: string;
  request?: string;
  rules?: string;
  deviceFile?: string;
  recoveryFile?: string;
  json?: boolean;
}

/**
 * Runs `cloister wallet <command> [sub]`; returns the exit code (0 ok, 1 refused, 2 usage).
 * `accessToken` resolves the token (CLOISTER_ACCESS_TOKEN or the stored login).
 */
export async function runWallet(
  command: string,
  sub: string | undefined,
  options: WalletOptions,
  accessToken: (url: string) => Promise<string | undefined>,
): Promise<number> {
  const print = printer(options.json === true);
  const out = (obj: unknown) => print(obj);
  const v = {
    ...options,
    'device-file': options.deviceFile,
    'recovery-file': options.recoveryFile,
    'expect-measurement': options.expectMeasurement,
    'trust-simulated-key': options.trustSimulatedKey,
    'trust-simulated-key-file': options.trustSimulatedKeyFile,
    label: options.label ?? '',
  };
  try {
    if (command === 'export') {
      const d = await loadShare(need(v['device-file'], '--device-file'), 'device', v.wallet);
      const r = await loadShare(need(v['recovery-file'], '--recovery-file'), 'recovery', v.wallet);
      if (d.walletId !== r.walletId || d.generation !== r.generation)
        throw new Usage('the two share files are not of the same wallet and generation');
      process.stderr.write('cloister: the mnemonic below controls the wallet; keep it offline\n');
      const mnemonic = await exportMnemonic(d.share, r.share);
      print({ mnemonic }, mnemonic);
      return 0;
    }
    const url = v.url.replace(/\/+$/, '');
    const { verification } = await attest({
      url,
      expectMeasurement: v['expect-measurement'],
      trustSimulatedKey: v['trust-simulated-key'],
      trustSimulatedKeyFile: v['trust-simulated-key-file'],
      ...(v.expectCluster ? { expectCluster: v.expectCluster } : {}),
    });
    if (!verification.valid)
      throw new Error(`attestation refused, nothing sent:\n  ${verification.reasons.join('\n  ')}`);
    const opts: WalletClientOptions = {
      baseUrl: url,
      accessToken:
        (await accessToken(url)) ??
        (() => {
          throw new Usage('log in first (cloister login) or set CLOISTER_ACCESS_TOKEN');
        })(),
      enclaveKey: { publicKey: verification.enclavePubkey!, keyId: verification.keyId! },
      // Every split must be signed by the attested enclave: a made-up wallet is refused.
      ...(verification.signingKeys ? { resultsKey: verification.signingKeys.results } : {}),
    };
    const share = (f: { kind: 'device' | 'recovery'; share: Uint8Array }): ClientShare => ({
      kind: f.kind,
      share: f.share,
    });
    switch (command) {
      case 'create': {
        const devicePath = need(v['device-file'], '--device-file');
        const recoveryPath = need(v['recovery-file'], '--recovery-file');
        env('CLOISTER_DEVICE_PASSPHRASE');
        env('CLOISTER_RECOVERY_PASSPHRASE');
        // Checked before the wallet exists: its shares must have somewhere to go.
        for (const p of [devicePath, recoveryPath])
          if (existsSync(p)) throw new Usage(`${p} exists; a share file is never overwritten`);
        const w = await createWallet(opts, v.label);
        await saveShares(w, devicePath, recoveryPath, false);
        out({ wallet_id: w.walletId, accounts: w.accounts });
        return 0;
      }
      case 'list': {
        // Addresses are the host's word unless the enclave's signature over them names the
        // device share's digest (a look-alike wallet under the same ids has other shares).
        const wallets = await listWallets(opts);
        const d = v['device-file']
          ? await loadShare(v['device-file'], 'device', v.wallet)
          : undefined;
        try {
          const checked = wallets.map((w) =>
            d && opts.resultsKey !== undefined && w.wallet_id === d.walletId
              ? verifyAccounts(w, d, opts.resultsKey)
              : { ...w, verified: false },
          );
          const unverified = checked.filter((w) => !w.verified).map((w) => w.wallet_id);
          if (unverified.length > 0)
            warn(
              `addresses not verified (the host's word; check with --device-file of the wallet): ${unverified.join(', ')}`,
            );
          out(checked);
        } finally {
          d?.share.fill(0);
        }
        return 0;
      }
      case 'sign': {
        const d = await loadShare(need(v['device-file'], '--device-file'), 'device', v.wallet);
        const r = await signWithShare(
          opts,
          d.walletId,
          share(d),
          need(v.address, '--address'),
          jsonArg(need(v.request, '--request')),
        );
        out(r);
        return 0;
      }
      case 'policy': {
        const d = await loadShare(need(v['device-file'], '--device-file'), 'device', v.wallet);
        const r = await setPolicy(opts, d.walletId, share(d), jsonArg(need(v.rules, '--rules')));
        out(r.policy);
        return 0;
      }
      case 'recover': {
        // Cancelling takes the device share only: the recovery share may be the one stolen.
        if (sub === 'cancel') {
          const d = await loadShare(need(v['device-file'], '--device-file'), 'device', v.wallet);
          out(await cancelRecovery(opts, d.walletId, share(d)));
          return 0;
        }
        const recoveryPath = need(v['recovery-file'], '--recovery-file');
        const r = await loadShare(recoveryPath, 'recovery', v.wallet);
        if (sub === 'start') {
          const view = await startRecovery(opts, r.walletId, share(r));
          out(view.recovery);
          return 0;
        }
        if (sub === 'complete') {
          const devicePath = need(v['device-file'], '--device-file');
          const view = await getWallet(opts, r.walletId);
          const w = await completeRecovery(opts, r.walletId, share(r), {
            generation: view.generation + 1,
            accounts: view.accounts,
          });
          await saveShares(w, devicePath, recoveryPath, true);
          out({ wallet_id: w.walletId, generation: w.generation });
          return 0;
        }
        throw new Usage('usage: cloister wallet recover <start|cancel|complete>');
      }
      default:
        throw new Usage(`unknown wallet command ${command}`);
    }
  } catch (err) {
    if (err instanceof Usage) {
      warn((err as Error).message);
      return 2;
    }
    const msg =
      err instanceof WalletApiError
        ? `${err.code}${err.details ? ` ${JSON.stringify(err.details)}` : ''}${refusalHint(err.code, err.details, v.url.replace(/\/+$/, ''))}`
        : (err as Error).message;
    warn(msg);
    return 1;
  }
}
