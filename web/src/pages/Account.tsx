/**
 * The signed-in account: its login methods (`GET /auth/methods`), adding a passkey
 * (`/auth/passkeys/register/*`) and the authenticator app (TOTP: `/auth/totp/enroll`, the
 * otpauth URI shown once as text, `/auth/totp/confirm` with a code, the recovery codes shown
 * once; `DELETE /auth/totp`). Adding a passkey and enrolling or removing TOTP are sensitive
 * operations: the service may ask for a step-up, and the dialog appears.
 */
import { useEffect, useState } from 'preact/hooks';
import { account, api, errorText } from '../api.js';
import { Field, Message, useAction } from '../components.js';
import { passkeyRegister } from '../sign-in.js';

interface Method {
  id: string;
  kind: string;
  identifier: string | null;
}

export function AccountPage() {
  const a = account.get();
  const [methods, setMethods] = useState<Method[] | null>(null);
  const [totp, setTotp] = useState(false);
  const { busy, msg, setMsg, run } = useAction();
  const load = () =>
    api<{ methods: Method[]; totp: boolean }>('/auth/methods')
      .then((r) => {
        setMethods(r.methods);
        setTotp(r.totp);
      })
      .catch((err: unknown) => setMsg({ kind: 'error', text: errorText(err) }));
  useEffect(() => void load(), []);

  const addPasskey = () =>
    run(async () => {
      await passkeyRegister(a?.email || undefined);
      setMsg({ kind: 'ok', text: 'Passkey added. You can sign in with it now.' });
      await load();
    });

  return (
    <section aria-labelledby="ac-h">
      <h1 id="ac-h">Account</h1>
      <section class="card" aria-labelledby="ac-m">
        <h2 id="ac-m">Sign-in methods</h2>
        {methods === null ? (
          <p>Loading…</p>
        ) : (
          <ul data-testid="methods">
            {methods.map((m) => (
              <li key={m.id}>
                {m.kind}
                {m.identifier ? `: ${m.identifier}` : ''}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section class="card" aria-labelledby="ac-p">
        <h2 id="ac-p">Passkeys</h2>
        <p>
          A passkey signs you in with this device or a security key; the enclave checks it. Adding
          one is a sensitive operation: you may be asked to confirm it is you.
        </p>
        <button type="button" disabled={busy} onClick={() => void addPasskey()}>
          Add a passkey
        </button>
        {msg && <Message kind={msg.kind}>{msg.text}</Message>}
      </section>
      {methods !== null && <TotpCard enrolled={totp} onChange={() => void load()} />}
    </section>
  );
}

/** Enrol (URI once, confirm with a code, recovery codes once) or remove the authenticator app. */
function TotpCard({ enrolled, onChange }: { enrolled: boolean; onChange: () => void }) {
  const [uri, setUri] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const { busy, msg, setMsg, run } = useAction();

  const enroll = () =>
    run(async () => {
      setCodes(null);
      const r = await api<{ otpauth_uri: string }>('/auth/totp/enroll', {
        method: 'POST',
        body: {},
      });
      setUri(r.otpauth_uri);
    });
  const confirm = () =>
    run(async () => {
      const r = await api<{ recovery_codes: string[] }>('/auth/totp/confirm', {
        method: 'POST',
        body: { code: code.trim() },
      });
      setUri(null);
      setCode('');
      setCodes(r.recovery_codes);
      setMsg({ kind: 'ok', text: 'Authenticator app enrolled. Sign-in now also asks for a code.' });
      onChange();
    });
  const remove = () =>
    run(async () => {
      await api('/auth/totp', { method: 'DELETE' });
      setCodes(null);
      setMsg({ kind: 'ok', text: 'Authenticator app removed, with its recovery codes.' });
      onChange();
    });

  return (
    <section class="card" aria-labelledby="ac-t">
      <h2 id="ac-t">Authenticator app (TOTP)</h2>
      {enrolled ? (
        <>
          <p>
            An authenticator app is enrolled: sign-in with the password and step-up ask for its code
            (or a recovery code).
          </p>
          <button type="button" disabled={busy} onClick={() => void remove()}>
            Remove the authenticator app
          </button>
        </>
      ) : uri === null ? (
        <>
          <p>
            A second factor: a six-digit code from an app. The enclave draws the secret and keeps it
            sealed; it is shown here once.
          </p>
          <button type="button" disabled={busy} onClick={() => void enroll()}>
            Set up an authenticator app
          </button>
        </>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void confirm();
          }}
        >
          <p>
            Add this to your authenticator app (most accept the link pasted as text), then type the
            code it shows. It is shown only now.
          </p>
          <p>
            <code class="wrap" data-testid="otpauth-uri">
              {uri}
            </code>
          </p>
          <Field id="ac-code" label="Code from the app">
            <input
              id="ac-code"
              inputMode="numeric"
              autocomplete="one-time-code"
              pattern="[0-9]{6}"
              required
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </Field>
          <button type="submit" disabled={busy}>
            Confirm the code
          </button>
        </form>
      )}
      {codes && (
        <section aria-labelledby="ac-rc">
          <h3 id="ac-rc">Recovery codes</h3>
          <p>
            Each one works once in place of a code from the app. Keep them offline: they are not
            shown again.
          </p>
          <ul class="codes" data-testid="recovery-codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </section>
      )}
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </section>
  );
}
