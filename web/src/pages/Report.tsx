/**
 * Performance report: the enclave fetches the fills with the session's key and signs the
 * figures; the page polls the job (progress: exchange requests, fills and the rate-limit waits
 * the exchange imposed), then checks the
 * signature and log inclusion here and offers the signed JSON and a share link to /verify.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { download, Field, Message } from '../components.js';
import {
  shareLink,
  verifyResult,
  type ResultDocument,
  type ResultVerification,
} from '../verify.js';
import { loadSessions, type SessionStatus } from './Keys.js';
import { ResultView } from './Result.js';

interface JobAnswer {
  status: 'queued' | 'running' | 'done' | 'cancelled';
  job_id: string;
  progress?: {
    requests: number;
    fills: number;
    rate_limit_waits?: number;
    rate_limit_wait_ms?: number;
  };
  status_url?: string;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** ", 2 rate-limit waits (3.5 s)" once the exchange has asked the enclave to slow down. */
function rateLimitText(p: JobAnswer['progress']): string {
  const n = p?.rate_limit_waits ?? 0;
  if (n === 0) return '';
  const s = ((p?.rate_limit_wait_ms ?? 0) / 1000).toFixed(1);
  return `, ${n} rate-limit wait${n === 1 ? '' : 's'} (${s} s)`;
}

export function ReportPage() {
  const [sessions, setSessions] = useState<SessionStatus[]>([]);
  const [session, setSession] = useState('');
  const [from, setFrom] = useState(day(new Date(Date.now() - 30 * 86_400_000)));
  const [to, setTo] = useState(day(new Date()));
  const [symbols, setSymbols] = useState('');
  const [progress, setProgress] = useState<JobAnswer | null>(null);
  const [doc, setDoc] = useState<ResultDocument | null>(null);
  const [checked, setChecked] = useState<ResultVerification | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState('');

  useEffect(() => {
    loadSessions().then(
      (s) => {
        const active = s.filter((x) => x.status === 'active');
        setSessions(active);
        if (active[0]) setSession(active[0].session_id);
      },
      (e) => setMsg(errorText(e)),
    );
  }, []);

  const request = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMsg(null);
    setDoc(null);
    setChecked(null);
    try {
      const list = symbols
        .split(/[\s,]+/)
        .map((s) => s.trim().toUpperCase())
        .filter(Boolean);
      let answer = await api<JobAnswer & Partial<ResultDocument>>('/enclave/request_aggregates', {
        method: 'POST',
        body: {
          session_id: session,
          from: new Date(`${from}T00:00:00Z`).toISOString(),
          to: new Date(`${to}T00:00:00Z`).toISOString(),
          ...(list.length ? { symbols: list } : {}),
        },
      });
      // A done answer carries the result, not the counters: the last ones seen stay shown.
      let last = answer.progress;
      setProgress(answer);
      while (answer.status === 'queued' || answer.status === 'running') {
        await new Promise((ok) => setTimeout(ok, 400));
        answer = await api(answer.status_url ?? `/enclave/aggregates/jobs/${answer.job_id}`);
        last = answer.progress ?? last;
        setProgress({ ...answer, ...(last ? { progress: last } : {}) });
      }
      if (answer.status === 'cancelled')
        throw new Error('the job was cancelled (the session was revoked)');
      const result = answer as unknown as ResultDocument;
      setDoc(result);
      setChecked(await verifyResult(result));
    } catch (err) {
      setMsg(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const running = progress && (progress.status === 'queued' || progress.status === 'running');
  return (
    <section aria-labelledby="rep-h">
      <h1 id="rep-h">Performance report</h1>
      <form onSubmit={request} class="card">
        <Field id="r-session" label="Exchange key session">
          <select
            id="r-session"
            required
            value={session}
            onChange={(e) => setSession(e.currentTarget.value)}
          >
            {sessions.length === 0 && <option value="">No active session: add a key first</option>}
            {sessions.map((s) => (
              <option key={s.session_id} value={s.session_id}>
                {s.label} ({s.exchange}, {s.session_id.slice(0, 8)})
              </option>
            ))}
          </select>
        </Field>
        <div class="row">
          <Field id="r-from" label="From (UTC day)">
            <input
              id="r-from"
              type="date"
              required
              value={from}
              onInput={(e) => setFrom(e.currentTarget.value)}
            />
          </Field>
          <Field id="r-to" label="To (UTC day, exclusive)">
            <input
              id="r-to"
              type="date"
              required
              value={to}
              onInput={(e) => setTo(e.currentTarget.value)}
            />
          </Field>
        </div>
        <Field
          id="r-sym"
          label="Symbols (optional, e.g. BTC/USDT, ETH/USDT)"
          hint="Empty: every symbol the account traded, where the exchange can list them."
        >
          <input
            id="r-sym"
            aria-describedby="r-sym-hint"
            value={symbols}
            onInput={(e) => setSymbols(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" disabled={busy || !session}>
          Request signed report
        </button>
      </form>
      {progress && (
        <div class="progress" data-testid="progress">
          <label for="job-progress">
            {running ? `Job ${progress.status}` : `Job ${progress.status}`}:{' '}
            <span data-testid="progress-text">
              {progress.progress?.requests ?? 0} exchange requests (pages),{' '}
              {progress.progress?.fills ?? 0} fills fetched
              {rateLimitText(progress.progress)}
            </span>
          </label>
          {running ? (
            <progress id="job-progress" aria-busy="true" />
          ) : (
            <progress id="job-progress" value={1} max={1} />
          )}
        </div>
      )}
      {msg && <Message kind="error">{msg}</Message>}
      {checked && <ResultView r={checked} />}
      {doc && (
        <div class="row">
          <button
            type="button"
            onClick={() =>
              download(`cloister-result-${doc.log.index}.json`, JSON.stringify(doc, null, 2))
            }
          >
            Download signed JSON
          </button>
          <button
            type="button"
            onClick={() => {
              const link = shareLink(doc);
              void navigator.clipboard?.writeText(link).catch(() => undefined);
              setCopied(link);
            }}
          >
            Share link
          </button>
        </div>
      )}
      {copied && (
        <p>
          Share link (anyone can check the result, no account needed):{' '}
          <a href={copied} data-testid="share-link">
            open the verify page
          </a>
        </p>
      )}
    </section>
  );
}
