/**
 * The signed-in account: its login methods (`GET /auth/methods`) and adding a passkey
 * (`/auth/passkeys/register/*`, a sensitive operation: the service may ask for a step-up, and
 * the dialog appears).
 */
import { useEffect, useState } from 'preact/hooks';
import { account, api, errorText } from '../api.js';
import { Message, useAction } from '../components.js';
import { passkeyRegister } from '../sign-in.js';

interface Method {
  id: string;
  kind: string;
  identifier: string | null;
}

export function AccountPage() {
  const a = account.get();
  const [methods, setMethods] = useState<Method[] | null>(null);
  const { busy, msg, setMsg, run } = useAction();
  const load = () =>
    api<{ methods: Method[] }>('/auth/methods')
      .then((r) => setMethods(r.methods))
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
    </section>
  );
}
