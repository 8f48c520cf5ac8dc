/**
 * Sign in and register. Each method is one entry of METHODS: the password method encrypts the
 * password to the verified enclave key (the SDK's encryptPassword, as the CLI does), so the
 * host never sees it; passkeys, email codes and SIWE (only with an injected wallet) beside it.
 */
import { useState } from 'preact/hooks';
import { account, ApiError } from '../api.js';
import { Field, Message, useAction, type Msg } from '../components.js';
import { navigate } from '../router.js';
import { otpStart, otpVerify, passkeyLogin, passwordAction, passwordLogin } from '../sign-in.js';
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
  const run = (action: 'register' | 'login') =>
    act(async () => {
      if (action === 'register') await passwordAction('register', email, password);
      if (!(await mfa.attempt((second) => passwordLogin(email, password, second)))) return;
      setPassword('');
      navigate('/keys');
    });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void run('login');
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
      {mfa.field}
      <div class="row">
        <button type="submit" disabled={busy}>
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
      <Field id="otp-email" label="Email for a code">
        <input
          id="otp-email"
          type="email"
          autocomplete="email"
          required
          value={email}
          onInput={(e) => setEmail(e.currentTarget.value)}
        />
      </Field>
      {sent && (
        <Field id="otp-code" label="Code from the mail" hint="Valid for 10 minutes, once.">
          <input
            id="otp-code"
            inputMode="numeric"
            autocomplete="one-time-code"
            aria-describedby="otp-code-hint"
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
        </Field>
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

export function SignInPage() {
  const a = account.get();
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
    </section>
  );
}
