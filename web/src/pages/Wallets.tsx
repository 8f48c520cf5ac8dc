/**
 * Wallets (src/client/wallet): create one (the device share goes to IndexedDB encrypted under
 * a passphrase, device-share.ts; the recovery share is downloaded and can be printed), show the
 * addresses, sign a message with the device share, edit the policy, see the recovery state.
 * Shares travel sealed to the verified enclave key; the split is checked against the attested
 * results key.
 */
import { useEffect, useState } from 'preact/hooks';
import {
  createWallet,
  listWallets,
  setPolicy,
  signWithEthereumMessage,
  type WalletClientOptions,
  type WalletView,
} from '../../../src/client/index.js';
import { account, errorText } from '../api.js';
import { download, Field, Message } from '../components.js';
import { openDeviceShare, saveDeviceShare } from '../device-share.js';
import { requireTrusted } from '../trust.js';

async function clientOptions(): Promise<WalletClientOptions> {
  const v = await requireTrusted();
  const a = account.get();
  if (!a) throw new Error('sign in first');
  return {
    baseUrl: location.origin,
    accessToken: a.accessToken,
    enclaveKey: { publicKey: v.enclavePubkey!, keyId: v.keyId! },
    resultsKey: v.signingKeys!.results,
  };
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));

interface RecoveryKit {
  v: 1;
  wallet_id: string;
  kind: 'recovery';
  generation: number;
  share: string;
  note: string;
}

function WalletCard({ w, onChange }: { w: WalletView; onChange: () => void }) {
  const [message, setMessage] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [signature, setSignature] = useState('');
  const [rules, setRules] = useState(JSON.stringify(w.policy.rules, null, 2));
  const [msg, setMsg] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const eth = w.accounts.filter((a) => a.chain === 'ethereum');
  const [address, setAddress] = useState(eth[0]?.address ?? '');
  const id = w.wallet_id.slice(0, 8);

  const withDevice = async <T,>(f: (o: WalletClientOptions, share: Uint8Array) => Promise<T>) => {
    const share = await openDeviceShare(w.wallet_id, passphrase);
    try {
      return await f(await clientOptions(), share);
    } finally {
      share.fill(0);
    }
  };
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
      <p>
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
      setWallets(await listWallets(await clientOptions()));
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
      const shares = await createWallet(await clientOptions(), label);
      await saveDeviceShare(shares.walletId, shares.generation, shares.device.share, passphrase);
      const k: RecoveryKit = {
        v: 1,
        wallet_id: shares.walletId,
        kind: 'recovery',
        generation: shares.generation,
        share: b64(shares.recovery.share),
        note: 'Cloister recovery share: keep it offline. With the enclave it recovers the wallet after the time-lock.',
      };
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
