/**
 * The signed-in account: its login methods (`GET /auth/methods`; unlinking one, never the last),
 * linking an email (`POST /auth/methods/link/email/start`, then the mailed code) or a password
 * (sealed to the enclave, action `link`), changing the password (`POST /auth/password/change`,
 * action `change`), a pending account recovery (`GET /auth/recovery`, Cancel), adding a passkey
 * (`/auth/passkeys/register/*`) and the authenticator app (TOTP: `/auth/totp/enroll`, the
 * otpauth URI shown once as text, `/auth/totp/confirm` with a code, the recovery codes shown
 * once; `DELETE /auth/totp`). Linking, unlinking, changing the password, adding a passkey and
 * enrolling or removing TOTP are sensitive operations: the service may ask for a step-up, and
 * the dialog appears. The auth calls are the SDK's (`sdk`, through withSession).
 */
import { useEffect, useState } from 'preact/hooks';
import { account, api, errorText, withSession } from '../api.js';
import { Field, InputField, Message, useAction } from '../components.js';
import { passkeyRegister, sdk, withPasswordEnvelope } from '../sign-in.js';

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

  const unlink = (m: Method) =>
    run(async () => {
      await withSession((t) => sdk(t).unlinkMethod(m.id));
      setMsg({ kind: 'ok', text: `Unlinked ${m.kind}${m.identifier ? ` ${m.identifier}` : ''}.` });
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
          <ul data-testid="methods" class="methods">
            {methods.map((m) => (
              <li key={m.id}>
                <span>
                  {m.kind}
                  {m.identifier ? `: ${m.identifier}` : ''}
                </span>{' '}
                <button
                  type="button"
                  disabled={busy || methods.length < 2}
                  aria-label={`Unlink ${m.kind}${m.identifier ? ` ${m.identifier}` : ''}`}
                  onClick={() => void unlink(m)}
                >
                  Unlink
                </button>
              </li>
            ))}
          </ul>
        )}
        {methods !== null && (
          <LinkMethods
            hasPassword={methods.some((m) => m.kind === 'password')}
            onChange={() => void load()}
          />
        )}
      </section>
      <RecoveryCard />
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

/** Link an email (a code mailed to it) or a password; change the password. */
function LinkMethods({ hasPassword, onChange }: { hasPassword: boolean; onChange: () => void }) {
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState(false);
  const [password, setPassword] = useState('');
  const { busy, msg, setMsg, run } = useAction();

  const startEmail = () =>
    run(async () => {
      await withSession((t) => sdk(t).linkEmailStart(email));
      setSent(true);
      setMsg({ kind: 'info', text: `If ${email} can receive mail, a code is on its way.` });
    });
  const linkEmail = () =>
    run(async () => {
      await withSession((t) => sdk(t).linkEmail(email, code.trim()));
      const a = account.get();
      if (a && !a.email.includes('@')) account.set({ ...a, email });
      setSent(false);
      setCode('');
      setMsg({
        kind: 'ok',
        text: `Email ${email} linked: you can sign in with a code mailed to it.`,
      });
      onChange();
    });
  const setPw = () =>
    run(async () => {
      const mine = account.get()?.email ?? '';
      if (!mine.includes('@')) throw new Error('link an email first: a password signs in with it');
      if (hasPassword) {
        const r = await withPasswordEnvelope('change', mine, password, (secret) =>
          withSession((t) => sdk(t).changePassword(secret)),
        );
        setMsg({
          kind: 'ok',
          text: `Password changed; ${r.revoked} other session(s) signed out.`,
        });
      } else {
        await withPasswordEnvelope('link', mine, password, (secret) =>
          withSession((t) => sdk(t).linkPassword(secret)),
        );
        setMsg({ kind: 'ok', text: 'Password linked: you can sign in with it now.' });
      }
      setPassword('');
      onChange();
    });

  return (
    <>
      <form
        aria-labelledby="ac-le"
        onSubmit={(e) => {
          e.preventDefault();
          void (sent ? linkEmail() : startEmail());
        }}
      >
        <h3 id="ac-le">Link an email</h3>
        <InputField
          id="ac-email"
          label="Email to link"
          kind="email"
          value={email}
          onValue={setEmail}
        />
        {sent && (
          <InputField
            id="ac-email-code"
            label="Code mailed to that address"
            kind="code"
            value={code}
            onValue={setCode}
          />
        )}
        <button type="submit" disabled={busy}>
          {sent ? 'Link the email' : 'Email me a code'}
        </button>
      </form>
      <form
        aria-labelledby="ac-lp"
        onSubmit={(e) => {
          e.preventDefault();
          void setPw();
        }}
      >
        <h3 id="ac-lp">{hasPassword ? 'Change the password' : 'Link a password'}</h3>
        <InputField
          id="ac-pw"
          label={hasPassword ? 'New password' : 'Password to link'}
          kind="password"
          value={password}
          onValue={setPassword}
        />
        <button type="submit" disabled={busy}>
          {hasPassword ? 'Change the password' : 'Link the password'}
        </button>
        {hasPassword && <p>Every other session of the account is signed out.</p>}
      </form>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </>
  );
}

/** A pending account recovery (started by whoever holds the mailbox), with Cancel. */
function RecoveryCard() {
  const [pending, setPending] = useState<{ unlock_at: string; can_complete: boolean } | null>(null);
  const { busy, msg, setMsg, run } = useAction();
  const load = () =>
    withSession((t) => sdk(t).recoveryStatus())
      .then((r) => setPending(r.pending))
      .catch((err: unknown) => setMsg({ kind: 'error', text: errorText(err) }));
  useEffect(() => void load(), []);
  const cancel = () =>
    run(async () => {
      await withSession((t) => sdk(t).recoveryCancel());
      setPending(null);
      setMsg({ kind: 'ok', text: 'Recovery cancelled: the new password will not take effect.' });
    });
  if (!pending && !msg) return null;
  return (
    <section class="card" aria-labelledby="ac-r" data-testid="pending-recovery">
      <h2 id="ac-r">Account recovery</h2>
      {pending && (
        <>
          <Message kind="error">
            A recovery of this account is pending: its new password takes effect after{' '}
            {new Date(pending.unlock_at).toLocaleString()}
            {pending.can_complete ? ' (that time has passed)' : ''}. If you did not start it, cancel
            it.
          </Message>
          <button type="button" disabled={busy} onClick={() => void cancel()}>
            Cancel the recovery
          </button>
        </>
      )}
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </section>
  );
}
