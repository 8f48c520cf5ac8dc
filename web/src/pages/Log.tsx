/**
 * Log explorer: the latest checkpoint, verified against the attested log key; whether it
 * extends the last checkpoint this browser saw (a consistency proof, checked here; a fork
 * warning when it does not); and this account's session entries with their inclusion proofs
 * verified (LogClient.sessionEntries).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  ClientError,
  LogClient,
  type VerifiedCheckpoint,
  type VerifiedEntry,
} from '../../../src/client/index.js';
import { account, errorText, sessionFetch, withSession } from '../api.js';
import { loadSessions } from './Keys.js';
import { Message } from '../components.js';
import { readJson, writeJson } from '../store.js';
import { verifyEnclave } from '../trust.js';

/**
 * The last checkpoint this browser verified, per log origin. The origin names the log key,
 * which never changes (ARCHITECTURE.md), so another origin on this site is another keyring; its
 * checkpoint is kept beside the earlier ones, never in their place: a host that once shows a
 * log of a fresh enclave cannot make the browser forget the first log, and roll it back unseen.
 */
const SEEN = 'cloister.log.seen.v2';
/** Before v2: one checkpoint, whatever its origin (read once, into SEEN). */
const LAST_V1 = 'cloister.log.last.v1';

function seenCheckpoints(): Record<string, VerifiedCheckpoint> {
  const stored = readJson<unknown>(localStorage, SEEN, {});
  const seen: Record<string, VerifiedCheckpoint> =
    stored !== null && typeof stored === 'object' && !Array.isArray(stored)
      ? { ...(stored as Record<string, VerifiedCheckpoint>) }
      : {};
  const v1 = readJson<VerifiedCheckpoint | null>(localStorage, LAST_V1, null);
  if (v1 && typeof v1.origin === 'string' && !Object.hasOwn(seen, v1.origin)) seen[v1.origin] = v1;
  return seen;
}

function remember(seen: Record<string, VerifiedCheckpoint>, checkpoint: VerifiedCheckpoint) {
  writeJson(localStorage, SEEN, { ...seen, [checkpoint.origin]: checkpoint });
  localStorage.removeItem(LAST_V1);
}

interface State {
  /** The evidence verified against a pinned measurement (else: any the service claimed). */
  pinned: boolean;
  checkpoint: VerifiedCheckpoint;
  consistency: { ok: boolean; text: string };
  entries: { session: string; entries: VerifiedEntry[] }[];
  /** Sessions whose entries did not verify (LOG_INVALID) or could not be read, and why. */
  unverified: { session: string; invalid: boolean; reason: string }[];
}

async function explore(): Promise<State> {
  const t = await verifyEnclave();
  const v = t.verification;
  if (!v?.valid || !v.signingKeys)
    throw new Error(`the enclave did not verify: ${t.reasons.join('; ')}`);
  const a = account.get();
  /** The status of the last answer read (one read at a time): a 404 is a purged session. */
  let status = 0;
  const client = new LogClient(
    location.origin,
    { logPublicKey: v.signingKeys.log, witnesses: [], witnessThreshold: 0 },
    async (url) => {
      const res = await (a ? withSession((token) => sessionFetch(url, token)) : fetch(url));
      status = res.status;
      return res;
    },
  );
  const checkpoint = await client.checkpoint();
  const seen = seenCheckpoints();
  const last = Object.hasOwn(seen, checkpoint.origin) ? seen[checkpoint.origin] : undefined;
  const others = Object.keys(seen).filter((o) => o !== checkpoint.origin);
  let consistency: State['consistency'];
  if (!last && others.length > 0) {
    consistency = {
      ok: false,
      text: `NEW LOG KEY: this browser saw another log on this site before (${others.join(', ')}), and a log key never changes: this log (${checkpoint.origin}) is another keyring's, a new deployment or an enclave started afresh. Its checkpoint is remembered beside the earlier ones, which are kept.`,
    };
    remember(seen, checkpoint);
  } else if (!last) {
    consistency = {
      ok: true,
      text: `first checkpoint this browser has seen for ${checkpoint.origin}: remembered`,
    };
    remember(seen, checkpoint);
  } else if (await client.consistent(last, checkpoint)) {
    consistency = {
      ok: true,
      text: `extends the last checkpoint this browser saw (size ${last.size} → ${checkpoint.size}), proven by a consistency proof`,
    };
    remember(seen, checkpoint);
  } else {
    consistency = {
      ok: false,
      text: `FORK WARNING: this checkpoint (size ${checkpoint.size}) does not extend the one this browser saw (size ${last.size}, root ${last.rootHash}). The log may have been rewritten or you are shown a different view.`,
    };
  }
  const entries: State['entries'] = [];
  const unverified: State['unverified'] = [];
  if (a)
    for (const { session_id: session } of await loadSessions()) {
      try {
        entries.push({ session, entries: (await client.sessionEntries(session)).entries });
      } catch (err) {
        // A purged session's entries stay in the log but are no longer listed by id (404).
        if (err instanceof ClientError && err.code === 'HTTP_ERROR' && status === 404) continue;
        // Anything else is not "no entries": a listing that did not verify is shown as such.
        const invalid = err instanceof ClientError && err.code === 'LOG_INVALID';
        unverified.push({ session, invalid, reason: errorText(err) });
      }
    }
  return { pinned: t.status === 'verified', checkpoint, consistency, entries, unverified };
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
            {!state.pinned && (
              <p class="msg msg-warn" role="note" data-testid="log-unpinned">
                The enclave's measurement is not pinned in this browser: this is the log of
                whichever enclave answered, signed by its key. Pin the measurement you expect on the
                Trust page.
              </p>
            )}
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
            {state.unverified.map(({ session, invalid, reason }) => (
              <p key={session} class="msg msg-error" role="alert" data-testid="entries-unverified">
                {invalid
                  ? 'ENTRIES NOT VERIFIED: the log served entries for session '
                  : 'ENTRIES NOT CHECKED: the log could not be read for session '}
                <code>{session.slice(0, 8)}</code>
                {invalid
                  ? ` that did not verify (${reason}). They are not shown: the log may have been rewritten or you are shown a different view.`
                  : ` (${reason}); its entries are not shown.`}
              </p>
            ))}
            {rows.length === 0 && state.unverified.length === 0 ? (
              <p>No entries for your sessions yet.</p>
            ) : rows.length === 0 ? null : (
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
