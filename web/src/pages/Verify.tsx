/** The public verify page: drop or paste a signed result; it is checked in this browser. */
import { useEffect, useState } from 'preact/hooks';
import { Field, Message } from '../components.js';
import {
  parseResult,
  resultFromFragment,
  verifyResult,
  type ResultVerification,
} from '../verify.js';
import { ResultView } from './Result.js';

export function VerifyPage() {
  const [text, setText] = useState('');
  const [checked, setChecked] = useState<ResultVerification | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dragging, setDragging] = useState(false);

  const check = async (t: string) => {
    setBusy(true);
    setMsg(null);
    setChecked(null);
    try {
      setChecked(await verifyResult(parseResult(t)));
    } catch (err) {
      setMsg(`Refused: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    const fromLink = () => {
      try {
        const shared = resultFromFragment(location.hash);
        if (shared) {
          setText(shared);
          void check(shared);
        }
      } catch {
        setMsg('The share link is damaged.');
      }
    };
    fromLink();
    addEventListener('hashchange', fromLink);
    return () => removeEventListener('hashchange', fromLink);
  }, []);

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    const t = await file.text();
    setText(t);
    await check(t);
  };

  return (
    <section aria-labelledby="v-h">
      <h1 id="v-h">Verify a signed result</h1>
      <p>
        No account needed. The result's signature is checked against the enclave's attestation and
        its entry against the transparency log, here in your browser.
      </p>
      <div
        class={dragging ? 'drop drop-active' : 'drop'}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          void onFile(e.dataTransfer?.files[0]);
        }}
      >
        <Field id="v-file" label="Drop a signed result here, or choose the file">
          <input
            id="v-file"
            type="file"
            accept="application/json,.json"
            onChange={(e) => void onFile(e.currentTarget.files?.[0])}
          />
        </Field>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void check(text);
        }}
      >
        <Field id="v-text" label="Or paste it">
          <textarea
            id="v-text"
            rows={6}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy || !text}>
          Verify
        </button>
      </form>
      {busy && <p role="status">Checking…</p>}
      {msg && <Message kind="error">{msg}</Message>}
      {checked && <ResultView r={checked} />}
    </section>
  );
}
