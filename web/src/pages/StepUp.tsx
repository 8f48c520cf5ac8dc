/**
 * The step-up dialog (a modal <dialog>, so focus stays in it and Escape cancels): shown when an
 * operation answered 401 STEP_UP_REQUIRED (step-up.ts). The user gives a second factor on the
 * same session (`POST /auth/step-up`: a TOTP or recovery code, a passkey of the account when the
 * service's details name `passkey`, or a code mailed to the account's address when they name
 * `otp`) or signs in again with the password or a passkey; the operation is then retried once.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { account, api, errorText } from '../api.js';
import { Field, InputField, Message } from '../components.js';
import {
  emailStepUp,
  emailStepUpStart,
  passkeyLogin,
  passkeyStepUp,
  passwordLogin,
  secondFactor,
  steppedUp,
} from '../sign-in.js';
import { stepUp } from '../step-up.js';
import { useStore } from '../store.js';

/** The factors the service's details name (`…: totp, recovery_code, passkey`). */
export function factorsOf(reason: string): string[] {
  return reason
    .split(';')
    .flatMap((issue) => (issue.split(':')[1] ?? '').split(','))
    .map((f) => f.trim())
    .filter(Boolean);
}

export function StepUpDialog() {
  const req = useStore(stepUp);
  const ref = useRef<HTMLDialogElement>(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [mailed, setMailed] = useState('');
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (req && !d.open) {
      setMsg(null);
      setSent(false);
      d.showModal();
    }
    if (!req && d.open) d.close();
    // The dialog stays in the page between prompts: what was typed into it (a password, a
    // code) goes with the prompt, cancelled or done, and is not there at the next one.
    if (!req) {
      setCode('');
      setPassword('');
      setMailed('');
    }
  }, [req]);

  const run = async (step: () => Promise<void>) => {
    if (!req) return;
    setBusy(true);
    setMsg(null);
    try {
      await step();
      setCode('');
      setPassword('');
      setMailed('');
      req.done();
    } catch (err) {
      setMsg(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const email = account.get()?.email ?? '';
  // A sign-in again must be of this tab's account: the operation is retried with its tokens.
  const userId = account.get()?.userId ?? '';
  const withCode = () =>
    run(async () => {
      const t = await api<{ access_token: string; refresh_token: string }>('/auth/step-up', {
        method: 'POST',
        body: secondFactor(code),
      });
      await steppedUp(t);
    });
  const factors = factorsOf(req?.reason ?? '');
  // The code field unless the service named factors without an authenticator app.
  const withApp =
    factors.length === 0 || factors.includes('totp') || factors.includes('recovery_code');
  const sendMail = async () => {
    setBusy(true);
    setMsg(null);
    try {
      await emailStepUpStart();
      setSent(true);
    } catch (err) {
      setMsg(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      aria-labelledby="su-h"
      class="step-up"
      data-testid="step-up"
      onCancel={(e) => {
        e.preventDefault();
        req?.cancel();
      }}
    >
      <h2 id="su-h">Confirm it is you</h2>
      <p>
        This operation needs a recent sign-in or your second factor.
        {req?.reason ? ` The service says: ${req.reason}.` : ''}
      </p>
      {withApp && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void withCode();
          }}
        >
          <Field id="su-code" label="Authenticator or recovery code">
            <input
              id="su-code"
              autocomplete="one-time-code"
              value={code}
              onInput={(e) => setCode(e.currentTarget.value)}
            />
          </Field>
          <button type="submit" disabled={busy || !code.trim()}>
            Confirm with the code
          </button>
        </form>
      )}
      {factors.includes('passkey') && (
        <p>
          <button type="button" disabled={busy} onClick={() => void run(passkeyStepUp)}>
            Confirm with a passkey
          </button>
        </p>
      )}
      {factors.includes('otp') && email.includes('@') && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void (sent ? run(() => emailStepUp(mailed)) : sendMail());
          }}
        >
          {sent && (
            <InputField
              id="su-mail"
              label={`Code mailed to ${email}`}
              kind="code"
              value={mailed}
              onValue={setMailed}
            />
          )}
          <button type="submit" disabled={busy}>
            {sent ? 'Confirm with the mailed code' : 'Email me a code'}
          </button>
        </form>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => passwordLogin(email, password, undefined, userId));
        }}
      >
        <Field id="su-pw" label={`Password for ${email || 'this account'}`}>
          <input
            id="su-pw"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <div class="row">
          <button type="submit" disabled={busy || !password || !email}>
            Sign in again
          </button>
          <button
            type="button"
            disabled={busy}
            onClick={() => void run(() => passkeyLogin(undefined, userId))}
          >
            Use a passkey
          </button>
          <button type="button" disabled={busy} onClick={() => req?.cancel()}>
            Cancel
          </button>
        </div>
      </form>
      {msg && <Message kind="error">{msg}</Message>}
    </dialog>
  );
}
