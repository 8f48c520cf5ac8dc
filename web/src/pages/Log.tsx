/**
 * Log explorer: the latest checkpoint, verified against the attested log key; whether it
 * extends the last checkpoint this browser saw (a consistency proof, checked here; a fork
 * warning when it does not); and this account's session entries with their inclusion proofs
 * verified (LogClient.sessionEntries).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  LogClient,
  type VerifiedCheckpoint,
  type VerifiedEntry,
} from '../../../src/client/index.js';
import { account, errorText, sessionFetch, withSession } from '../api.js';
import { loadSessions } from './Keys.js';
import { Message } from '../components.js';
import { readJson, writeJson } from '../store.js';
import { verifyEnclave } from '../trust.js';

const LAST = 'cloister.log.last.v1';

interface State {
  checkpoint: VerifiedCheckpoint;
  consistency: { ok: boolean; text: string };
  entries: { session: string; entries: VerifiedEntry[] }[];
}

async function explore(): Promise<State> {
  const t = await verifyEnclave();
  const v = t.verification;
  if (!v?.valid || !v.signingKeys)
    throw new Error(`the enclave did not verify: ${t.reasons.join('; ')}`);
  const a = account.get();
  const client = new LogClient(
    location.origin,
    { logPublicKey: v.signingKeys.log, witnesses: [], witnessThreshold: 0 },
    (url) => (a ? withSession((token) => sessionFetch(url, token)) : fetch(url)),
  );
  const checkpoint = await client.checkpoint();
  const last = readJson<VerifiedCheckpoint | null>(localStorage, LAST, null);
  let consistency: State['consistency'];
  if (!last || last.origin !== checkpoint.origin) {
    consistency = {
      ok: true,
      text: `first checkpoint this browser has seen for ${checkpoint.origin}: remembered`,
    };
    writeJson(localStorage, LAST, checkpoint);
  } else if (await client.consistent(last, checkpoint)) {
    consistency = {
      ok: true,
      text: `extends the last checkpoint this browser saw (size ${last.size} → ${checkpoint.size}), proven by a consistency proof`,
    };
    writeJson(localStorage, LAST, checkpoint);
  } else {
    consistency = {
      ok: false,
      text: `FORK WARNING: this checkpoint (size ${checkpoint.size}) does not extend the one this browser saw (size ${last.size}, root ${last.rootHash}). The log may have been rewritten or you are shown a different view.`,
    };
  }
  const entries: State['entries'] = [];
  if (a)
    for (const { session_id: session } of await loadSessions()) {
      try {
        entries.push({ session, entries: (await client.sessionEntries(session)).entries });
      } catch {
        // A purged session's entries stay in the log but are no longer listed by id.
      }
    }
  return { checkpoint, consistency, entries };
}

export function LogPage() {
  const [state, setState] = useState<State | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  useEffect(() => {
    explore().then(setState, (e) => setMsg(errorText(e)));
  }, []);
  const rows =
    state?.entries.flatMap((s) => s.entries.map((e) => ({ session: s.session, e }))) ?? [];
  return (
    <section aria-labelledby="log-h">
      <h1 id="log-h">Transparency log</h1>
      {msg && <Message kind="error">{msg}</Message>}
      {!state && !msg && <p role="status">Verifying the log…</p>}
      {state && (
        <>
          <section class="card" aria-labelledby="cp-h" data-testid="checkpoint">
            <h2 id="cp-h">Latest checkpoint (signature verified)</h2>
            <dl>
              <dt>Origin</dt>
              <dd>{state.checkpoint.origin}</dd>
              <dt>Size</dt>
              <dd>{state.checkpoint.size}</dd>
              <dt>Root hash</dt>
              <dd>
                <code>{state.checkpoint.rootHash}</code>
              </dd>
            </dl>
          </section>
          <p
            class={state.consistency.ok ? 'msg msg-ok' : 'msg msg-error'}
            role={state.consistency.ok ? 'status' : 'alert'}
            data-testid="consistency"
          >
            {state.consistency.text}
          </p>
          <section aria-labelledby="own-h" data-testid="own-entries">
            <h2 id="own-h">Your entries (inclusion proofs verified)</h2>
            {rows.length === 0 ? (
              <p>No entries for your sessions yet.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Index</th>
                    <th scope="col">Type</th>
                    <th scope="col">Session</th>
                    <th scope="col">Time</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map(({ session, e }) => (
                    <tr key={e.index}>
                      <td>{e.index}</td>
                      <td>{e.entry.type}</td>
                      <td>
                        <code>{session.slice(0, 8)}</code>
                      </td>
                      <td>{new Date(e.entry.time * 1000).toISOString()}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </section>
  );
}
