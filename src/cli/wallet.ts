/**
 * `cloister wallet ...` (docs/protocol/wallet-shares.md), on the SDK:
 *   wallet create  --label L --device-file F --recovery-file R
 *   wallet list
 *   wallet sign    --wallet ID --address A --request JSON|@file --device-file F
 *   wallet policy  --wallet ID --rules JSON|@file --device-file F
 *   wallet recover start|cancel|complete --wallet ID --recovery-file R [--device-file F]
 *   wallet export  --device-file F --recovery-file R          (no server: prints the mnemonic)
 * Common: --url U --expect-measurement H [--trust-simulated-key-file K] (attested before any
 * share is sealed). The access token comes from CLOISTER_ACCESS_TOKEN; the passphrases from
 * CLOISTER_DEVICE_PASSPHRASE and CLOISTER_RECOVERY_PASSPHRASE (never argv). Share files are
 * Argon2id + AES-256-GCM, mode 0600 (share-file.ts); a re-split rewrites both files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
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
  WalletApiError,
  type ClientShare,
  type WalletClientOptions,
  type WalletShares,
} from '../client/index.js';
import { readShareFile, writeShareFile } from './share-file.js';
import { attest } from './trust.js';

const USAGE = `usage: cloister wallet <create|list|sign|policy|recover start|recover cancel|recover complete|export> [options]
  --url URL --expect-measurement HEX [--trust-simulated-key-file PATH]   the attested service
  --wallet ID  --label TEXT  --address ADDR
  --request JSON|@FILE   sign: R, e.g. {"type":"eth_personal_sign","message":"gm"}
  --rules JSON|@FILE     policy: e.g. [{"type":"max_value_wei","value":"1000"}]
  --device-file PATH --recovery-file PATH   encrypted share files (0600)
Environment: CLOISTER_ACCESS_TOKEN, CLOISTER_DEVICE_PASSPHRASE, CLOISTER_RECOVERY_PASSPHRASE.`;

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

async function loadShare(path: string, kind: 'device' | 'recovery') {
  const passphrase = env(
    kind === 'device' ? 'CLOISTER_DEVICE_PASSPHRASE' : 'CLOISTER_RECOVERY_PASSPHRASE',
  );
  const f = await readShareFile(path, passphrase);
  if (f.kind !== kind) throw new Usage(`${path} holds a ${f.kind} share, not a ${kind} share`);
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

/** Runs `cloister wallet ...`; returns the exit code (0 ok, 1 refused, 2 usage). */
export async function walletMain(argv: string[]): Promise<number> {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  try {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string', default: 'http://127.0.0.1:3000' },
        'expect-measurement': { type: 'string', multiple: true },
        'trust-simulated-key': { type: 'string', multiple: true },
        'trust-simulated-key-file': { type: 'string', multiple: true },
        wallet: { type: 'string' },
        label: { type: 'string', default: '' },
        address: { type: 'string' },
        request: { type: 'string' },
        rules: { type: 'string' },
        'device-file': { type: 'string' },
        'recovery-file': { type: 'string' },
      },
    });
    const [command, sub] = positionals;
    if (command === 'export') {
      const d = await loadShare(need(v['device-file'], '--device-file'), 'device');
      const r = await loadShare(need(v['recovery-file'], '--recovery-file'), 'recovery');
      if (d.walletId !== r.walletId || d.generation !== r.generation)
        throw new Usage('the two share files are not of the same wallet and generation');
      process.stderr.write('cloister: the mnemonic below controls the wallet; keep it offline\n');
      out(await exportMnemonic(d.share, r.share));
      return 0;
    }
    const url = v.url.replace(/\/+$/, '');
    const { verification } = await attest({
      url,
      expectMeasurement: v['expect-measurement'],
      trustSimulatedKey: v['trust-simulated-key'],
      trustSimulatedKeyFile: v['trust-simulated-key-file'],
    });
    if (!verification.valid)
      throw new Error(`attestation refused, nothing sent:\n  ${verification.reasons.join('\n  ')}`);
    const opts: WalletClientOptions = {
      baseUrl: url,
      accessToken: env('CLOISTER_ACCESS_TOKEN'),
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
        out(JSON.stringify({ wallet_id: w.walletId, accounts: w.accounts }, null, 2));
        return 0;
      }
      case 'list':
        out(JSON.stringify(await listWallets(opts), null, 2));
        return 0;
      case 'sign': {
        const d = await loadShare(need(v['device-file'], '--device-file'), 'device');
        const r = await signWithShare(
          opts,
          d.walletId,
          share(d),
          need(v.address, '--address'),
          jsonArg(need(v.request, '--request')),
        );
        out(JSON.stringify(r, null, 2));
        return 0;
      }
      case 'policy': {
        const d = await loadShare(need(v['device-file'], '--device-file'), 'device');
        const r = await setPolicy(opts, d.walletId, share(d), jsonArg(need(v.rules, '--rules')));
        out(JSON.stringify(r.policy, null, 2));
        return 0;
      }
      case 'recover': {
        const recoveryPath = need(v['recovery-file'], '--recovery-file');
        if (sub === 'cancel') {
          const d = await loadShare(need(v['device-file'], '--device-file'), 'device');
          out(JSON.stringify(await cancelRecovery(opts, d.walletId, share(d)), null, 2));
          return 0;
        }
        const r = await loadShare(recoveryPath, 'recovery');
        if (sub === 'start') {
          const view = await startRecovery(opts, r.walletId, share(r));
          out(JSON.stringify(view.recovery, null, 2));
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
          out(JSON.stringify({ wallet_id: w.walletId, generation: w.generation }, null, 2));
          return 0;
        }
        throw new Usage('usage: cloister wallet recover <start|cancel|complete>');
      }
      default:
        throw new Usage(USAGE);
    }
  } catch (err) {
    if (
      err instanceof Usage ||
      (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ) {
      process.stderr.write(`cloister: ${(err as Error).message}\n`);
      return 2;
    }
    const msg =
      err instanceof WalletApiError
        ? `${err.code}${err.details ? ` ${JSON.stringify(err.details)}` : ''}`
        : (err as Error).message;
    process.stderr.write(`cloister: ${msg}\n`);
    return 1;
  }
}
