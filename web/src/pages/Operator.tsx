/**
 * Operator view (role `operator`; the service checks the role on every route): every session
 * with its owner, status and expiry, revocation, the JWT signing-key rollover, and the counters
 * of GET /operator/metrics, and the cluster members recorded in the shared database
 * (GET /cluster/members: every instance started with CLUSTER_ADVERTISE_URL).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { Message } from '../components.js';

interface OpSession {
  session_id: string;
  user_id: string | null;
  exchange: string;
  label: string;
  status: string;
  created_at: string;
  expires_at: string;
}

interface Member {
  url: string;
  measurement: string;
  seen_at: string;
}

export function OperatorPage() {
  const [members, setMembers] = useState<Member[] | null>(null);
  const [sessions, setSessions] = useState<OpSession[] | null>(null);
  const [metrics, setMetrics] = useState<Record<string, unknown> | null>(null);
  const [msg, setMsg] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);

  const refresh = async () => {
    try {
      setSessions((await api<{ sessions: OpSession[] }>('/operator/sessions?limit=200')).sessions);
      setMetrics(await api<Record<string, unknown>>('/operator/metrics'));
      setMembers((await api<{ members: Member[] }>('/cluster/members')).members);
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    }
  };
  useEffect(() => void refresh(), []);

  const act = async (path: string, done: string) => {
    try {
      await api(path, { method: 'POST' });
      setMsg({ kind: 'ok', text: done });
      await refresh();
    } catch (err) {
      setMsg({ kind: 'error', text: errorText(err) });
    }
  };

  return (
    <section aria-labelledby="op-h">
      <h1 id="op-h">Operator</h1>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
      <section class="card" aria-labelledby="rot-h">
        <h2 id="rot-h">Access-token signing key</h2>
        <button
          type="button"
          onClick={() => void act('/operator/auth/rotate-keys', 'Signing key rolled over.')}
        >
          Rotate signing key now
        </button>
      </section>
      {metrics && (
        <section class="card" aria-labelledby="met-h">
          <h2 id="met-h">Counters</h2>
          <pre data-testid="metrics">{JSON.stringify(metrics, null, 2)}</pre>
        </section>
      )}
      <section class="card" aria-labelledby="mem-h">
        <h2 id="mem-h">Cluster members</h2>
        {members === null ? (
          <p>Loading…</p>
        ) : members.length === 0 ? (
          <p>
            No member recorded: an instance records itself once ready when it has
            CLUSTER_ADVERTISE_URL.
          </p>
        ) : (
          <table data-testid="members">
            <caption class="sr-only">Instances, most recently seen first</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Measurement</th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.url}>
                  <td>
                    <code>{m.url}</code>
                  </td>
                  <td>
                    <code title={m.measurement}>{`${m.measurement.slice(0, 16)}…`}</code>
                  </td>
                  <td>{new Date(m.seen_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <h2>Sessions</h2>
      {sessions === null ? (
        <p>Loading…</p>
      ) : (
        <table data-testid="op-sessions">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Owner</th>
              <th scope="col">Exchange</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.session_id}>
                <td>
                  <code>{s.session_id}</code>
                </td>
                <td>
                  <code>{s.user_id ?? 'none'}</code>
                </td>
                <td>{s.exchange}</td>
                <td>{s.status}</td>
                <td>{new Date(s.expires_at).toLocaleString()}</td>
                <td>
                  {s.status === 'active' && (
                    <button
                      type="button"
                      aria-label={`Revoke session ${s.session_id}`}
                      onClick={() =>
                        void act(
                          `/operator/sessions/${s.session_id}/revoke`,
                          `Session ${s.session_id} revoked.`,
                        )
                      }
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
