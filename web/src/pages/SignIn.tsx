/**
 * Sign in and register. Each method is one entry of METHODS: the password method encrypts the
 * password to the verified enclave key (the SDK's encryptPassword, as the CLI does), so the
 * host never sees it; passkeys, email codes and SIWE (only with an injected wallet) beside it.
 * "Forgot password?" opens account recovery (RecoverAccount): a mailed code and a new password,
 * reset at once or time-locked with a completion code to keep, and the form that completes it.
 */
import { useState } from 'preact/hooks';
import { account, ApiError, errorText } from '../api.js';
import { download, Field, InputField, Message, useAction, type Msg } from '../components.js';
import { navigate } from '../router.js';
import {
  awaitsConfirmation,
  confirmRegistration,
  otpStart,
  otpVerify,
  passkeyLogin,
  passwordAction,
  withPasswordEnvelope,
  passwordLogin,
  sdk,
} from '../sign-in.js';
import { SiweMethod, siweAvailable } from './Siwe.js';

/**
 * The second factor of an account with an authenticator app: the field appears once the service
 * answered AUTH_MFA_REQUIRED, and the sign-in is sent again with its code (or a recovery code).
 */
function useSecondFactor(id: string, setMsg: (m: Msg) => void) {
  const [needed, setNeeded] = useState(false);
  const [code, setCode] = useState('');
  /** Runs `signIn`; false when the service asked for the second factor (the field is shown). */
  const attempt = async (signIn: (second?: string) => Promise<void>): Promise<boolean> => {
    try {
      await signIn(needed ? code : undefined);
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 'AUTH_MFA_REQUIRED') throw err;
      setNeeded(true);
      setMsg({ kind: 'info', text: 'This account has an authenticator app: type its code.' });
      return false;
    }
    setCode('');
    return true;
  };
  const field = needed && (
    <Field id={id} label="Code from your authenticator app, or a recovery code">
      <input
        id={id}
        autocomplete="one-time-code"
        required
        value={code}
        onInput={(e) => setCode(e.currentTarget.value)}
      />
    </Field>
  );
  return { attempt, field };
}

function PasswordMethod() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, msg, setMsg, run: act } = useAction();
  const mfa = useSecondFactor('si-code', setMsg);
  // With email confirmation on, a registration waits for the mailed code (202 accepted).
  const [pending, setPending] = useState(false);
  const [confirmCode, setConfirmCode] = useState('');
  const run = (action: 'register' | 'login' | 'confirm') =>
    act(async () => {
      if (action === 'register') {
        if (awaitsConfirmation(await passwordAction('register', email, password))) {
          setPending(true);
          setMsg({
            kind: 'info',
            text: `We mailed a confirmation code to ${email}: type it to finish creating the account.`,
          });
          return;
        }
      }
      if (action === 'confirm') {
        await confirmRegistration(email, password, confirmCode);
        setPending(false);
        setConfirmCode('');
      }
      if (!(await mfa.attempt((second) => passwordLogin(email, password, second)))) return;
      setPassword('');
      navigate('/keys');
    });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void run(pending ? 'confirm' : 'login');
      }}
    >
      <Field id="si-email" label="Email">
        <input
          id="si-email"
          type="email"
          autocomplete="username"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
      </Field>
      <Field
        id="si-pw"
        label="Password"
        hint="At least 12 characters. Encrypted to the enclave in this browser."
      >
        <input
          id="si-pw"
          type="password"
          autocomplete="current-password"
          aria-describedby="si-pw-hint"
          required
          minLength={12}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </Field>
      {pending && (
        <Field
          id="si-confirm"
          label="Confirmation code from the mail"
          hint="The 6-digit code, with the same email and password as above."
        >
          <input
            id="si-confirm"
            autocomplete="one-time-code"
            inputMode="numeric"
            aria-describedby="si-confirm-hint"
            required
            pattern="\d{6}"
            value={confirmCode}
            onInput={(e) => setConfirmCode(e.currentTarget.value)}
          />
        </Field>
      )}
      {mfa.field}
      <div class="row">
        {pending && (
          <button type="submit" disabled={busy}>
            Confirm and sign in
          </button>
        )}
        <button
          type={pending ? 'button' : 'submit'}
          disabled={busy}
          onClick={pending ? () => void run('login') : undefined}
        >
          Sign in
        </button>
        <button
          type="button"
          disabled={busy}
          onClick={() => void run('register')}
          data-testid="register"
        >
          Create account
        </button>
      </div>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </form>
  );
}

function PasskeyMethod() {
  const { busy, msg, setMsg, run: act } = useAction();
  // An authenticator that did not verify the user: an account with TOTP needs its code too.
  const mfa = useSecondFactor('pk-second', setMsg);
  const run = () =>
    act(async () => {
      if (!(await mfa.attempt((second) => passkeyLogin(second)))) return;
      navigate('/keys');
    });
  return (
    <div>
      <p>Use a passkey you added on the Account page (this device or a security key).</p>
      {mfa.field}
      <button type="button" disabled={busy} onClick={() => void run()}>
        Sign in with a passkey
      </button>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </div>
  );
}

function EmailCodeMethod() {
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState(false);
  const { busy, msg, setMsg, run } = useAction();
  const mfa = useSecondFactor('otp-second', setMsg);
  const start = () =>
    run(async () => {
      await otpStart(email);
      setSent(true);
      setMsg({ kind: 'info', text: `If ${email} can receive mail, a code is on its way.` });
    });
  const verify = () =>
    run(async () => {
      if (!(await mfa.attempt((second) => otpVerify(email, code.trim(), second)))) return;
      setCode('');
      navigate('/keys');
    });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void (sent ? verify() : start());
      }}
    >
      <InputField
        id="otp-email"
        label="Email for a code"
        kind="email"
        value={email}
        onValue={setEmail}
      />
      {sent && (
        <InputField
          id="otp-code"
          label="Code from the mail"
          kind="code"
          hint="Valid for 10 minutes, once."
          value={code}
          onValue={setCode}
        />
      )}
      {mfa.field}
      <div class="row">
        {sent ? (
          <>
            <button type="submit" disabled={busy}>
              Sign in with the code
            </button>
            <button type="button" disabled={busy} onClick={() => void start()}>
              Send another code
            </button>
          </>
        ) : (
          <button type="submit" disabled={busy}>
            Email me a code
          </button>
        )}
      </div>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </form>
  );
}

/** The sign-in methods, in the order shown; SIWE only when the browser has a wallet. */
function methods(): { id: string; title: string; render: () => preact.JSX.Element }[] {
  return [
    { id: 'password', title: 'Email and password', render: () => <PasswordMethod /> },
    { id: 'passkey', title: 'Passkey', render: () => <PasskeyMethod /> },
    { id: 'otp', title: 'Email code', render: () => <EmailCodeMethod /> },
    ...(siweAvailable()
      ? [{ id: 'siwe', title: 'Sign-In with Ethereum', render: () => <SiweMethod /> }]
      : []),
  ];
}

/** Account recovery: start (a mailed code), confirm with a new password, complete after the lock. */
function RecoverAccount() {
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [sent, setSent] = useState(false);
  const [pending, setPending] = useState<{ unlock_at: string; completion_code: string } | null>(
    null,
  );
  const { busy, msg, setMsg, run } = useAction();
  const start = () =>
    run(async () => {
      await sdk().recoveryStart(email);
      setSent(true);
      setMsg({
        kind: 'info',
        text: `If ${email} belongs to an account, a recovery code is on its way.`,
      });
    });
  const confirm = () =>
    run(async () => {
      const r = await withPasswordEnvelope('reset', email, password, (secret) =>
        sdk().recoveryConfirm(email, code.trim(), secret),
      );
      setPassword('');
      setCode('');
      setSent(false);
      if (r.status === 'pending' && r.unlock_at && r.completion_code) {
        setPending({ unlock_at: r.unlock_at, completion_code: r.completion_code });
        setMsg(null);
      } else {
        setMsg({ kind: 'ok', text: 'Password reset: sign in with the new one above.' });
      }
    });
  const text = pending
    ? `Cloister account recovery for ${email}\nUnlocks: ${pending.unlock_at}\nCompletion code: ${pending.completion_code}\n`
    : '';
  return (
    <section class="card" aria-labelledby="rc-h">
      <h2 id="rc-h">Recover the account</h2>
      <p>
        A code mailed to the account&apos;s address lets you set a new password. An account with a
        second factor (authenticator app or passkey) waits first: its owner can cancel meanwhile.
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void (sent ? confirm() : start());
        }}
      >
        <InputField
          id="rc-email"
          label="Account email"
          kind="email"
          autocomplete="username"
          value={email}
          onValue={setEmail}
        />
        {sent && (
          <>
            <InputField
              id="rc-code"
              label="Recovery code from the mail"
              kind="code"
              value={code}
              onValue={setCode}
            />
            <InputField
              id="rc-pw"
              label="New password"
              kind="password"
              value={password}
              onValue={setPassword}
            />
          </>
        )}
        <button type="submit" disabled={busy}>
          {sent ? 'Set the new password' : 'Email me a recovery code'}
        </button>
      </form>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
      {pending && (
        <section aria-labelledby="rc-p" data-testid="recovery-pending">
          <h3 id="rc-p">Recovery pending</h3>
          <p>
            The new password takes effect once you complete the recovery, after{' '}
            <strong>{new Date(pending.unlock_at).toLocaleString()}</strong>. Keep this completion
            code: it is shown only now and the service does not store it.
          </p>
          <p>
            <code class="wrap" data-testid="completion-code">
              {pending.completion_code}
            </code>
          </p>
          <div class="row">
            <button
              type="button"
              onClick={() =>
                void navigator.clipboard
                  .writeText(pending.completion_code)
                  .then(() => setMsg({ kind: 'ok', text: 'Completion code copied.' }))
                  .catch((err: unknown) => setMsg({ kind: 'error', text: errorText(err) }))
              }
            >
              Copy the code
            </button>
            <button
              type="button"
              onClick={() => download('cloister-account-recovery.txt', text, 'text/plain')}
            >
              Download the code
            </button>
          </div>
        </section>
      )}
      <CompleteRecovery />
    </section>
  );
}

/** After the unlock time: email and completion code; says clearly when it is still locked. */
function CompleteRecovery() {
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const { busy, msg, setMsg, run } = useAction();
  const complete = () =>
    run(async () => {
      try {
        await sdk().recoveryComplete(email, code.trim());
      } catch (err) {
        const c = (err as { code?: string }).code;
        if (c === 'AUTH_RECOVERY_LOCKED')
          throw new Error(
            'Still locked: the recovery can be completed only after its unlock time.',
          );
        if (c === 'AUTH_RECOVERY_INVALID')
          throw new Error(
            'No recovery to complete with this email and code (wrong code, cancelled, or past its deadline).',
          );
        throw err;
      }
      setCode('');
      setMsg({ kind: 'ok', text: 'Recovery complete: sign in with the new password.' });
    });
  return (
    <form
      aria-labelledby="rc-c"
      onSubmit={(e) => {
        e.preventDefault();
        void complete();
      }}
    >
      <h3 id="rc-c">Complete a recovery</h3>
      <InputField
        id="rc-c-email"
        label="Email of the recovered account"
        kind="email"
        autocomplete="username"
        value={email}
        onValue={setEmail}
      />
      <Field id="rc-c-code" label="Completion code">
        <input
          id="rc-c-code"
          autocomplete="off"
          required
          value={code}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </Field>
      <button type="submit" disabled={busy}>
        Complete the recovery
      </button>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </form>
  );
}

export function SignInPage() {
  const a = account.get();
  const [recover, setRecover] = useState(false);
  return (
    <section aria-labelledby="si-h">
      <h1 id="si-h">Sign in</h1>
      {a && <Message kind="info">Signed in as {a.email}.</Message>}
      {methods().map((m) => (
        <section key={m.id} aria-labelledby={`m-${m.id}`} class="card">
          <h2 id={`m-${m.id}`}>{m.title}</h2>
          {m.render()}
        </section>
      ))}
      <p>
        <button
          type="button"
          aria-expanded={recover}
          aria-controls="recover"
          onClick={() => setRecover(!recover)}
        >
          Forgot password?
        </button>
      </p>
      <div id="recover">{recover && <RecoverAccount />}</div>
    </section>
  );
}
