/**
 * Wallets (src/client/wallet): create one (the device share goes to IndexedDB encrypted under
 * a passphrase, device-share.ts; the recovery share is downloaded and can be printed), show the
 * addresses, sign a message with the device share, edit the policy, see the recovery state and
 * start or cancel a recovery (complete it after the time-lock: new shares), and export the
 * mnemonic (the device and recovery shares combined here, `exportMnemonic`, checked against the
 * wallet's addresses). The addresses are the host's list, shown as unverified until "Check
 * addresses" opens the device share and `verifyAccounts` finds the enclave's signature over them
 * bound to that share. Shares travel sealed to the verified enclave key; a split is checked
 * against the attested results key. Every SDK call goes through withSession (api.ts): an
 * expired access token is refreshed, and a sensitive route's STEP_UP_REQUIRED opens the step-up
 * dialog; the operation is then retried once.
 */
import { useEffect, useState } from 'preact/hooks';
import {
  cancelRecovery,
  completeRecovery,
  createWallet,
  exportMnemonic,
  listWallets,
  setPolicy,
  startRecovery,
  signWithEthereumMessage,
  verifyAccounts,
  type WalletClientOptions,
  type WalletView,
} from '../../../src/client/index.js';
import { errorText, withSession } from '../api.js';
import { download, Field, Message } from '../components.js';
import { openDeviceShare, saveDeviceShare } from '../device-share.js';
import { requireTrusted } from '../trust.js';

/** The SDK's options with `accessToken` (given by withSession, which refreshes it). */
async function clientOptions(accessToken: string): Promise<WalletClientOptions> {
  const v = await requireTrusted();
  return {
    baseUrl: location.origin,
    accessToken,
    enclaveKey: { publicKey: v.enclavePubkey!, keyId: v.keyId! },
    resultsKey: v.signingKeys!.results,
  };
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

interface RecoveryKit {
  v: 1;
  wallet_id: string;
  kind: 'recovery';
  generation: number;
  share: string;
  note: string;
}

function recoveryKit(walletId: string, generation: number, share: Uint8Array): RecoveryKit {
  return {
    v: 1,
    wallet_id: walletId,
    kind: 'recovery',
    generation,
    share: b64(share),
    note: 'Cloister recovery share: keep it offline. With the enclave it recovers the wallet after the time-lock.',
  };
}

/** The recovery share from a downloaded kit file, refused unless it is this wallet's generation. */
async function readKit(file: File | undefined, w: WalletView): Promise<Uint8Array> {
  if (!file) throw new Error('choose the recovery share file');
  let k: Partial<RecoveryKit>;
  try {
    k = JSON.parse(await file.text()) as Partial<RecoveryKit>;
  } catch {
    throw new Error('the file is not a recovery share (JSON)');
  }
  if (k.v !== 1 || k.kind !== 'recovery' || typeof k.share !== 'string')
    throw new Error('the file is not a recovery share');
  if (k.wallet_id !== w.wallet_id || k.generation !== w.generation)
    throw new Error(`the file is the recovery share of another wallet or generation`);
  return unb64(k.share);
}

function WalletCard({ w, onChange }: { w: WalletView; onChange: () => void }) {
  const [message, setMessage] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [signature, setSignature] = useState('');
  const [rules, setRules] = useState(JSON.stringify(w.policy.rules, null, 2));
  const [msg, setMsg] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const eth = w.accounts.filter((a) => a.chain === 'ethereum');
  const [address, setAddress] = useState(eth[0]?.address ?? '');
  const [kitFile, setKitFile] = useState<File | undefined>(undefined);
  const [mnemonic, setMnemonic] = useState('');
  const [newKit, setNewKit] = useState<RecoveryKit | null>(null);
  const id = w.wallet_id.slice(0, 8);
  const unlocked = w.recovery !== null && w.recovery.unlock_at * 1000 <= Date.now();
  /** null: not checked yet (the host's list); else the outcome of verifyAccounts. */
  const [verified, setVerified] = useState<boolean | null>(null);

  const withDevice = async <T,>(f: (o: WalletClientOptions, share: Uint8Array) => Promise<T>) => {
    const share = await openDeviceShare(w.wallet_id, passphrase);
    try {
      return await withSession(async (t) => f(await clientOptions(t), share));
    } finally {
      share.fill(0);
    }
  };
  const withRecovery = async <T,>(f: (o: WalletClientOptions, share: Uint8Array) => Promise<T>) => {
    const share = await readKit(kitFile, w);
    try {
      return await withSession(async (t) => f(await clientOptions(t), share));
    } finally {
      share.fill(0);
    }
  };
  const act = async (step: () => Promise<string>) => {
    setMsg(null);
    try {
      setMsg({ kind: 'ok', text: await step() });
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    }
  };
  const exportWallet = () =>
    act(async () => {
      setMnemonic('');
      const recovery = await readKit(kitFile, w);
      const device = await openDeviceShare(w.wallet_id, passphrase);
      try {
        setMnemonic(await exportMnemonic(device, recovery, { expectedAccounts: w.accounts }));
      } finally {
        device.fill(0);
        recovery.fill(0);
      }
      return 'Exported: the mnemonic below gives these addresses in any BIP-39 wallet.';
    });
  const beginRecovery = () =>
    act(async () => {
      await withRecovery((o, share) => startRecovery(o, w.wallet_id, { kind: 'recovery', share }));
      onChange();
      return 'Recovery started: it unlocks after the time-lock unless the device share cancels it.';
    });
  const stopRecovery = () =>
    act(async () => {
      await withDevice((o, share) => cancelRecovery(o, w.wallet_id, { kind: 'device', share }));
      onChange();
      return 'Recovery cancelled.';
    });
  const finishRecovery = () =>
    act(async () => {
      if (passphrase.length < 12) throw new Error('type a new device passphrase (12 characters+)');
      const shares = await withRecovery((o, share) =>
        completeRecovery(
          o,
          w.wallet_id,
          { kind: 'recovery', share },
          // The shares of the next generation: a recovery re-splits the same secret.
          { generation: w.generation + 1, accounts: w.accounts },
        ),
      );
      await saveDeviceShare(shares.walletId, shares.generation, shares.device.share, passphrase);
      const k = recoveryKit(shares.walletId, shares.generation, shares.recovery.share);
      shares.device.share.fill(0);
      shares.recovery.share.fill(0);
      setNewKit(k);
      download(`cloister-recovery-${k.wallet_id}.json`, JSON.stringify(k, null, 2));
      onChange();
      return `Recovered: generation ${k.generation}; the new recovery share was downloaded.`;
    });
  const checkAddresses = () =>
    act(async () => {
      const ok = await withDevice(
        async (o, share) => verifyAccounts(w, { kind: 'device', share }, o.resultsKey!).verified,
      );
      setVerified(ok);
      if (!ok)
        throw new Error(
          'Not verified: the enclave signed no such list for your device share. Do not use these addresses.',
        );
      return 'Addresses verified: the enclave signed them for the wallet of your device share.';
    });
  const sign = async (e: Event) => {
    e.preventDefault();
    setMsg(null);
    setSignature('');
    try {
      const r = await withDevice((o, share) =>
        signWithEthereumMessage(o, w.wallet_id, { kind: 'device', share }, address, message),
      );
      if ('signature' in r) setSignature(r.signature);
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    }
  };
  const savePolicy = async () => {
    setMsg(null);
    try {
      const parsed = JSON.parse(rules) as Record<string, unknown>[];
      if (!Array.isArray(parsed)) throw new Error('the policy is a JSON array of rules');
      await withDevice((o, share) => setPolicy(o, w.wallet_id, { kind: 'device', share }, parsed));
      setMsg({ kind: 'ok', text: 'Policy saved (the enclave keeps it inside the wallet record).' });
      onChange();
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    }
  };

  return (
    <section class="card" aria-labelledby={`w-${id}`}>
      <h2 id={`w-${id}`}>
        {w.label || 'Wallet'}{' '}
        <small>
          ({w.wallet_id}, generation {w.generation})
        </small>
      </h2>
      <table>
        <caption class="sr-only">Addresses</caption>
        <thead>
          <tr>
            <th scope="col">Chain</th>
            <th scope="col">Path</th>
            <th scope="col">Address</th>
          </tr>
        </thead>
        <tbody>
          {w.accounts.map((a) => (
            <tr key={a.path}>
              <td>{a.chain}</td>
              <td>{a.path}</td>
              <td>
                <code data-testid={a.chain === 'ethereum' ? 'eth-address' : 'sol-address'}>
                  {a.address}
                </code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p data-testid="addresses-verified">
        {verified === true
          ? 'Addresses verified with your device share.'
          : verified === false
            ? 'Addresses NOT verified: do not send funds to them.'
            : 'Addresses not verified yet (as the host lists them).'}{' '}
        <button type="button" onClick={() => void checkAddresses()}>
          Check addresses
        </button>
      </p>
      <p data-testid="recovery-state">
        Recovery:{' '}
        {w.recovery
          ? `started ${new Date(w.recovery.started_at * 1000).toLocaleString()}, unlocks ${new Date(w.recovery.unlock_at * 1000).toLocaleString()}`
          : 'none in progress'}
      </p>
      <form onSubmit={sign}>
        <h3>Sign a message (EIP-191)</h3>
        <Field id={`sa-${id}`} label="Address">
          <select
            id={`sa-${id}`}
            value={address}
            onChange={(e) => setAddress(e.currentTarget.value)}
          >
            {eth.map((a) => (
              <option key={a.address} value={a.address}>
                {a.address}
              </option>
            ))}
          </select>
        </Field>
        <Field id={`sm-${id}`} label="Message to sign">
          <textarea
            id={`sm-${id}`}
            rows={2}
            required
            value={message}
            onInput={(e) => setMessage(e.currentTarget.value)}
          />
        </Field>
        <Field id={`sp-${id}`} label="Device passphrase to sign">
          <input
            id={`sp-${id}`}
            type="password"
            required
            autocomplete="off"
            value={passphrase}
            onInput={(e) => setPassphrase(e.currentTarget.value)}
          />
        </Field>
        <button type="submit">Sign message</button>
      </form>
      {signature && (
        <p>
          Signature: <code data-testid="signature">{signature}</code>
        </p>
      )}
      <h3>Policy</h3>
      <Field
        id={`pol-${id}`}
        label="Rules (JSON)"
        hint='E.g. [{"type":"deny_message_signing"}] or [{"type":"max_value_wei","value":"1000000000000000000"}]. Saving needs the device passphrase above.'
      >
        <textarea
          id={`pol-${id}`}
          rows={4}
          aria-describedby={`pol-${id}-hint`}
          value={rules}
          onInput={(e) => setRules(e.currentTarget.value)}
        />
      </Field>
      <button type="button" onClick={() => void savePolicy()}>
        Save policy
      </button>
      <h3>Recovery share: recovery and export</h3>
      <Field
        id={`rk-${id}`}
        label="Recovery share file"
        hint="The file downloaded when the wallet was created. It is read in this browser only."
      >
        <input
          id={`rk-${id}`}
          type="file"
          accept="application/json,.json"
          aria-describedby={`rk-${id}-hint`}
          onChange={(e) => setKitFile(e.currentTarget.files?.[0])}
        />
      </Field>
      <div class="row">
        <button type="button" onClick={() => void exportWallet()}>
          Export mnemonic
        </button>
        {w.recovery === null ? (
          <button type="button" onClick={() => void beginRecovery()}>
            Start recovery
          </button>
        ) : (
          <>
            <button type="button" onClick={() => void stopRecovery()}>
              Cancel recovery
            </button>
            {unlocked && (
              <button type="button" onClick={() => void finishRecovery()}>
                Complete recovery
              </button>
            )}
          </>
        )}
      </div>
      <p class="hint">
        Export needs the device passphrase above and this file; nothing is sent. Cancelling a
        recovery needs the device passphrase; completing it stores a new device share under the
        passphrase typed above.
      </p>
      {mnemonic && (
        <p>
          Mnemonic (write it down, then close this page):{' '}
          <code data-testid="mnemonic">{mnemonic}</code>
        </p>
      )}
      {newKit && <pre class="print-only">{JSON.stringify(newKit, null, 2)}</pre>}
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </section>
  );
}

export function WalletsPage() {
  const [wallets, setWallets] = useState<WalletView[] | null>(null);
  const [label, setLabel] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [kit, setKit] = useState<RecoveryKit | null>(null);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);

  const refresh = async () => {
    try {
      setWallets(await withSession(async (t) => listWallets(await clientOptions(t))));
    } catch (err) {
      setMsg(errorText(err));
      setWallets([]);
    }
  };
  useEffect(() => void refresh(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMsg(null);
    try {
      const shares = await withSession(async (t) => createWallet(await clientOptions(t), label));
      await saveDeviceShare(shares.walletId, shares.generation, shares.device.share, passphrase);
      const k = recoveryKit(shares.walletId, shares.generation, shares.recovery.share);
      shares.device.share.fill(0);
      shares.recovery.share.fill(0);
      setKit(k);
      setPassphrase('');
      download(`cloister-recovery-${k.wallet_id}.json`, JSON.stringify(k, null, 2));
      await refresh();
    } catch (err) {
      setMsg(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="wal-h">
      <h1 id="wal-h">Wallets</h1>
      <form onSubmit={create} class="card no-print" aria-labelledby="wc-h">
        <h2 id="wc-h">Create a wallet</h2>
        <p>
          The device share stays in this browser, encrypted under your passphrase. The recovery
          share is downloaded as a file: print it or keep it offline.
        </p>
        <Field id="wc-label" label="Wallet label">
          <input
            id="wc-label"
            maxLength={64}
            value={label}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </Field>
        <Field
          id="wc-pass"
          label="Device passphrase"
          hint="At least 12 characters; it never leaves this browser."
        >
          <input
            id="wc-pass"
            type="password"
            required
            minLength={12}
            autocomplete="new-password"
            aria-describedby="wc-pass-hint"
            value={passphrase}
            onInput={(e) => setPassphrase(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy}>
          Create wallet
        </button>
      </form>
      {kit && (
        <section class="card" aria-labelledby="kit-h">
          <h2 id="kit-h">Recovery share for {kit.wallet_id}</h2>
          <p class="no-print">The file was downloaded. Print a copy too, and keep both offline.</p>
          <div class="row no-print">
            <button
              type="button"
              onClick={() =>
                download(`cloister-recovery-${kit.wallet_id}.json`, JSON.stringify(kit, null, 2))
              }
            >
              Download again
            </button>
            <button type="button" onClick={() => print()}>
              Print
            </button>
          </div>
          <pre class="print-only">{JSON.stringify(kit, null, 2)}</pre>
        </section>
      )}
      {msg && <Message kind="error">{msg}</Message>}
      {wallets === null ? (
        <p>Loading…</p>
      ) : (
        wallets.map((w) => <WalletCard key={w.wallet_id} w={w} onChange={() => void refresh()} />)
      )}
    </section>
  );
}
