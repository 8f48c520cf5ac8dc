/** Small shared pieces: links that route in-page, the trust banner, status messages. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { errorText } from './api.js';
import { navigate } from './router.js';
import { trust as trustStore, type TrustState } from './trust.js';
import { useStore } from './store.js';

export function Link(props: { href: string; children: ComponentChildren; current?: boolean }) {
  return (
    <a
      href={props.href}
      aria-current={props.current ? 'page' : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

const short = (hex: string | null) => (hex ? `${hex.slice(0, 16)}…${hex.slice(-8)}` : 'none');

function statusLine(t: TrustState): string {
  switch (t.status) {
    case 'checking':
      return 'Checking the enclave evidence in this browser…';
    case 'verified':
      return 'Enclave evidence verified in this browser against your pins';
    case 'unpinned':
      return 'Evidence verifies, but you have not pinned a measurement: pin it before sending anything';
    case 'failed':
      return 'Enclave evidence REFUSED in this browser: nothing secret will be sent';
  }
}

export function TrustBanner() {
  const t = useStore(trustStore);
  const simulated = t.platform === 'simulated' || t.debug === true;
  return (
    <section class={`trust trust-${t.status}`} aria-label="Enclave trust" data-testid="trust">
      {simulated && (
        <p class="simulated" data-testid="simulated-banner">
          SIMULATED / DEBUG ENCLAVE: no hardware protects these secrets. For development only.
        </p>
      )}
      <p class="trust-status" role="status" data-testid="trust-status">
        {statusLine(t)}
      </p>
      <dl class="trust-facts">
        <dt>Platform</dt>
        <dd data-testid="trust-platform">{t.platform ?? 'unknown'}</dd>
        <dt>Measurement</dt>
        <dd title={t.measurement ?? ''}>
          <code>{short(t.measurement)}</code>
        </dd>
        <dt>Cluster id</dt>
        <dd title={t.clusterId ?? ''}>
          <code>{short(t.clusterId)}</code>
        </dd>
        <dt>Key</dt>
        <dd>
          <code>{t.keyId ? `${t.keyId.slice(0, 12)}…` : 'none'}</code>
          {t.keyChanged && <span class="note"> (changed since first seen; verified again)</span>}
        </dd>
      </dl>
      {t.status !== 'verified' && (
        <p>
          <Link href="/trust">Review and pin what this browser trusts</Link>
        </p>
      )}
    </section>
  );
}

export function Message(props: { kind: 'error' | 'ok' | 'info'; children: ComponentChildren }) {
  return (
    <p class={`msg msg-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </p>
  );
}

export function Field(props: {
  id: string;
  label: string;
  children: ComponentChildren;
  hint?: string;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

const PASSWORD_HINT = 'At least 12 characters. Encrypted to the enclave in this browser.';

/**
 * A labelled input of a kind the forms repeat: an `email`, a `code` (mailed or from an app), a
 * `password` to send (at least 12 characters, encrypted to the enclave; its hint by default).
 */
export function InputField(props: {
  id: string;
  label: string;
  kind: 'email' | 'code' | 'password';
  value: string;
  onValue: (v: string) => void;
  hint?: string;
  autocomplete?: string;
}) {
  const hint = props.hint ?? (props.kind === 'password' ? PASSWORD_HINT : undefined);
  const kind = {
    email: { type: 'email', autocomplete: 'email' },
    code: { inputMode: 'numeric', autocomplete: 'one-time-code' },
    password: { type: 'password', autocomplete: 'new-password', minLength: 12 },
  }[props.kind];
  return (
    <Field id={props.id} label={props.label} {...(hint ? { hint } : {})}>
      <input
        id={props.id}
        {...kind}
        {...(props.autocomplete ? { autocomplete: props.autocomplete } : {})}
        {...(hint ? { 'aria-describedby': `${props.id}-hint` } : {})}
        required
        value={props.value}
        onInput={(e) => props.onValue(e.currentTarget.value)}
      />
    </Field>
  );
}

/** Saves `text` as a file the browser downloads. */
export function download(name: string, text: string, type = 'application/json'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export type Msg = { kind: 'error' | 'ok' | 'info'; text: string } | null;

/** A button's action: busy while it runs, its error (stable code and message) shown after. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<Msg>(null);
  const run = async (step: () => Promise<void>) => {
    setBusy(true);
    setMsg(null);
    try {
      await step();
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  return { busy, msg, setMsg, run };
}
