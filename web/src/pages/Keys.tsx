/**
 * Exchange keys: added encrypted in this browser (CryptoHelper.encryptCredentials to the
 * verified enclave key; the host stores ciphertext only), listed with status and expiry,
 * revoked. The list is every session of the account (GET /enclave/sessions).
 */
import { useEffect, useState } from 'preact/hooks';
import { CryptoHelper, EXCHANGES, type Exchange } from '../../../src/client/index.js';
import { account, api, errorText } from '../api.js';
import { Field, Message } from '../components.js';
import { requireTrusted } from '../trust.js';

export interface SessionStatus {
  session_id: string;
  exchange: string;
  label: string;
  status: 'active' | 'revoked' | 'expired' | 'invalid';
  created_at: string;
  expires_at: string;
}

/** The account's sessions (GET /enclave/sessions: every device's, newest first). */
export async function loadSessions(): Promise<SessionStatus[]> {
  return (await api<{ sessions: SessionStatus[] }>('/enclave/sessions')).sessions;
}

const when = (iso: string) => new Date(iso).toLocaleString();

export function KeysPage() {
  const [exchange, setExchange] = useState<Exchange>('binance');
  const [label, setLabel] = useState('main');
  const [apiKey, setApiKey] = useState('');
  const [apiSecret, setApiSecret] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [ttl, setTtl] = useState('3600');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const [sessions, setSessions] = useState<SessionStatus[] | null>(null);

  const refresh = () =>
    loadSessions().then(setSessions, (e) => setMsg({ kind: 'error', text: errorText(e) }));
  useEffect(() => void refresh(), []);

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMsg(null);
    try {
      const v = await requireTrusted();
      const creds = { exchange, apiKey, apiSecret, ...(passphrase ? { passphrase } : {}) };
      const metadata = { exchange, label, ttl: Number(ttl) };
      const userId = account.get()?.userId;
      // Re-sealed once if a just-restarted enclave refuses its date (ENVELOPE_BEFORE_START).
      const r = await CryptoHelper.sendCredentials(
        creds,
        v.enclavePubkey!,
        // The lifetime, label and owner are sealed in: the host can forward none other.
        {
          keyId: v.keyId!,
          ttl: metadata.ttl,
          label,
          ...(userId ? { userId } : {}),
        },
        (e) =>
          api<{ session_id: string; expires_at: string }>('/enclave/submit_key', {
            method: 'POST',
            body: { ...e, metadata },
          }),
      );
      setApiKey('');
      setApiSecret('');
      setPassphrase('');
      setMsg({
        kind: 'ok',
        text: `Key added: session ${r.session_id}, expires ${when(r.expires_at)}.`,
      });
      await refresh();
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string) => {
    try {
      await api('/enclave/revoke', { method: 'POST', body: { session_id: id } });
      setMsg({ kind: 'ok', text: `Session ${id} revoked; its ciphertext is purged.` });
      await refresh();
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    }
  };

  return (
    <section aria-labelledby="keys-h">
      <h1 id="keys-h">Exchange keys</h1>
      <form onSubmit={add} class="card" aria-labelledby="add-h">
        <h2 id="add-h">Add a read-only key</h2>
        <p>
          The key is encrypted in this browser to the enclave you verified; the service stores only
          ciphertext.
        </p>
        <Field id="k-ex" label="Exchange">
          <select
            id="k-ex"
            value={exchange}
            onChange={(e) => setExchange(e.currentTarget.value as Exchange)}
          >
            {EXCHANGES.map((x) => (
              <option key={x} value={x}>
                {x}
              </option>
            ))}
          </select>
        </Field>
        <Field id="k-label" label="Label">
          <input
            id="k-label"
            value={label}
            maxLength={64}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </Field>
        <Field id="k-key" label="API key">
          <input
            id="k-key"
            required
            autocomplete="off"
            value={apiKey}
            onInput={(e) => setApiKey(e.currentTarget.value)}
          />
        </Field>
        <Field id="k-secret" label="API secret">
          <input
            id="k-secret"
            type="password"
            required
            autocomplete="off"
            value={apiSecret}
            onInput={(e) => setApiSecret(e.currentTarget.value)}
          />
        </Field>
        <Field id="k-pass" label="API passphrase (OKX, Coinbase; optional)">
          <input
            id="k-pass"
            type="password"
            autocomplete="off"
            value={passphrase}
            onInput={(e) => setPassphrase(e.currentTarget.value)}
          />
        </Field>
        <Field id="k-ttl" label="Lifetime (seconds)">
          <input
            id="k-ttl"
            type="number"
            min={300}
            step={60}
            required
            value={ttl}
            onInput={(e) => setTtl(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy}>
          Encrypt and add key
        </button>
      </form>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
      <h2>Sessions</h2>
      {sessions === null ? (
        <p>Loading…</p>
      ) : sessions.length === 0 ? (
        <p>No sessions yet.</p>
      ) : (
        <table data-testid="sessions">
          <caption class="sr-only">Your exchange key sessions</caption>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col">Exchange</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">Session</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.session_id}>
                <td>{s.label}</td>
                <td>{s.exchange}</td>
                <td>{s.status}</td>
                <td>{when(s.expires_at)}</td>
                <td>
                  <code>{s.session_id}</code>
                </td>
                <td>
                  {s.status === 'active' && (
                    <button
                      type="button"
                      onClick={() => void revoke(s.session_id)}
                      aria-label={`Revoke ${s.label}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
