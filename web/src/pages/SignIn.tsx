/**
 * Sign in and register. Each method is one entry of METHODS: the password method encrypts the
 * password to the verified enclave key (the SDK's encryptPassword, as the CLI does), so the
 * host never sees it. Passkeys, email codes and SIWE are added here as further entries.
 */
import { useState } from 'preact/hooks';
import { encryptPassword } from '../../../src/client/index.js';
import { account, api, errorText, rolesOf } from '../api.js';
import { Field, Message } from '../components.js';
import { navigate } from '../router.js';
import { requireTrusted } from '../trust.js';

interface TokenPair {
  user_id: string;
  access_token: string;
  refresh_token: string;
}

async function passwordAction(action: 'register' | 'login', email: string, password: string) {
  const v = await requireTrusted();
  const envelope = encryptPassword({ action, email, password }, v.enclavePubkey!, {
    keyId: v.keyId!,
  });
  return api<unknown>(`/auth/${action}`, {
    method: 'POST',
    body: { email, envelope },
    auth: false,
  });
}

function PasswordMethod() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);

  const run = async (action: 'register' | 'login') => {
    setBusy(true);
    setMsg(null);
    try {
      if (action === 'register') await passwordAction('register', email, password);
      const t = (await passwordAction('login', email, password)) as TokenPair;
      account.set({
        userId: t.user_id,
        email,
        accessToken: t.access_token,
        refreshToken: t.refresh_token,
        roles: rolesOf(t.access_token),
      });
      setPassword('');
      navigate('/keys');
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
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

/** The sign-in methods, in the order shown. */
const METHODS: { id: string; title: string; render: () => preact.JSX.Element }[] = [
  { id: 'password', title: 'Email and password', render: () => <PasswordMethod /> },
];

export function SignInPage() {
  const a = account.get();
  return (
    <section aria-labelledby="si-h">
      <h1 id="si-h">Sign in</h1>
      {a && <Message kind="info">Signed in as {a.email}.</Message>}
      {METHODS.map((m) => (
        <section key={m.id} aria-labelledby={`m-${m.id}`} class="card">
          <h2 id={`m-${m.id}`}>{m.title}</h2>
          {m.render()}
        </section>
      ))}
    </section>
  );
}
