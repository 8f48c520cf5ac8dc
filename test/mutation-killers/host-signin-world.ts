/**
 * The sign-in services of src/host/auth (email codes, SIWE, passkeys, TOTP, recovery, linked
 * methods) in-process, for the mutation run (docs/mutation-testing.md): the service tests in
 * test/auth/ cover them against the spawned enclave, tens of seconds per file. The host never
 * checks a code, signature or assertion itself (the enclave does), so here the enclave is a
 * scripted fake of its RPC client (answers and `EnclaveCallError`s as the real client gives
 * them); the repository answers what each test scripts and records every call with its
 * arguments (the transaction as 'TX', the pool as 'DB'); the log, ops, throttle and logger sinks
 * record what they get (ops and throttle: test/helpers/auth-fakes.ts).
 */
import assert from 'node:assert/strict';
import type { AuthServiceDeps } from '../../src/host/auth/auth-service.js';
import { EnclaveCallError } from '../../src/host/enclave-client/rpc-client.js';
import type { EnclaveCallErrorCode } from '../../src/host/enclave-client/rpc-client.js';
import { HostError } from '../../src/host/errors.js';
import { userLogSubject } from '../../src/protocol/auth.js';
import { AUTH_CONFIG, recordingOps, recordingThrottle } from '../helpers/auth-fakes.js';

export const NOW = 1_900_000_000; // seconds; tests freeze Date here
export const UID = '11111111-1111-4111-8111-111111111111';
export const OTHER = '33333333-3333-4333-8333-333333333333';
export const SID = '22222222-2222-4222-8222-222222222222';
export const BINDING = `mb1.${'b'.repeat(43)}`;
export const NO_BINDING = `mb1.${'A'.repeat(43)}`;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What an enclave login or step-up issues (`over` replaces fields). */
export const issued = (over: Record<string, unknown> = {}) => ({
  user_id: UID,
  session_id: SID,
  access_token: 'acc',
  access_expires_at: NOW + 900,
  refresh_token: 'ref',
  refresh_expires_at: NOW + 86400,
  refresh_hash: 'ref-hash',
  binding: null,
  recovery_mac: null,
  totp_step: null,
  ...over,
});

/** The token pair `issued()` answers with at NOW. */
export const PAIR = {
  access_token: 'acc',
  token_type: 'Bearer',
  expires_in: 900,
  refresh_token: 'ref',
  refresh_expires_in: 86400,
};

export const enclaveError = (code: EnclaveCallErrorCode) => () => {
  throw new EnclaveCallError(code);
};

type Fn = (...args: unknown[]) => unknown;

export function world(opts: { mailDir?: string } = {}) {
  const calls: { method: string; params: Record<string, unknown> }[] = [];
  const enclaveAnswers: Record<string, Fn> = {};
  const enclave = {
    call: (async (method: string, params: Record<string, unknown>) => {
      calls.push({ method, params });
      const h = enclaveAnswers[method];
      if (!h) throw new Error(`unexpected enclave call ${method}`);
      return h(params);
    }) as unknown as AuthServiceDeps['enclave']['call'],
  };

  /** Every repository call, in order: [name, ...args] with the transaction as 'TX'. */
  const repoCalls: unknown[][] = [];
  const steps: string[] = [];
  const name = (q: unknown) => (q === TX ? 'TX' : q === DB ? 'DB' : q);
  const queries: unknown[][] = [];
  let queryRows: unknown[] = [{ id: 'm-new' }];
  const TX = {
    query: async (sql: string, params: unknown[]) => {
      queries.push([sql.replace(/\s+/g, ' ').trim(), params]);
      return { rows: queryRows };
    },
  };
  const DB = {
    transaction: async <T>(fn: (tx: unknown) => Promise<T>) => {
      steps.push('tx');
      return fn(TX);
    },
  };
  const answers: Record<string, Fn> = {};
  const repo = new Proxy({ db: DB } as Record<string, unknown>, {
    get(target, prop) {
      if (prop in target) return target[prop as string];
      if (typeof prop !== 'string') return undefined;
      return async (...args: unknown[]) => {
        // An optional last argument passed as undefined is left out, as if not passed.
        while (args.length > 0 && args.at(-1) === undefined) args.pop();
        repoCalls.push([prop, ...args.map(name)]);
        const a = answers[prop];
        if (!a) throw new Error(`unexpected repo call ${prop}`);
        return a(...args);
      };
    },
  });

  const committed: unknown[][] = [];
  const log = {
    isReady: () => true,
    commit: async (op: { work(tx: unknown): Promise<{ result: unknown; entries: unknown[] }> }) => {
      steps.push('commit');
      const r = await op.work(TX);
      committed.push(r.entries);
      return { result: r.result, leaves: [], checkpoint: null };
    },
  };
  const verifier = { forget: () => void steps.push('forget') };

  const throttle = recordingThrottle();
  const { ops, recorded, emitted } = recordingOps({
    name,
    onRecord: (event) => void steps.push(`record ${event.type}`),
  });
  const warnings: unknown[][] = [];
  const logger = {
    warn: (...a: unknown[]) => void warnings.push(a),
    error: (...a: unknown[]) => void warnings.push(a),
    info: () => undefined,
  };
  const deps = {
    enclave,
    repo: repo as unknown as AuthServiceDeps['repo'],
    log: log as unknown as AuthServiceDeps['log'],
    verifier: verifier as unknown as AuthServiceDeps['verifier'],
    throttle: throttle.throttle,
    ops,
    config: AUTH_CONFIG,
    logger: logger as unknown as AuthServiceDeps['logger'],
    ...(opts.mailDir ? { mailDir: opts.mailDir } : {}),
  } as AuthServiceDeps;
  return {
    deps,
    calls,
    enclaveAnswers,
    answers,
    repoCalls,
    queries,
    steps,
    committed,
    throttleCalls: throttle.calls,
    recorded,
    emitted,
    warnings,
    TX,
    setWait: throttle.setWait,
    setRefundFails: throttle.setRefundFails,
    setQueryRows: (rows: unknown[]) => (queryRows = rows),
    /** The repository call names, in order. */
    repoNames: () => repoCalls.map((c) => c[0]),
    /** The types of the ops events recorded, in order. */
    recordedTypes: () => recorded.map((r) => r.event.type),
  };
}
export type World = ReturnType<typeof world>;

/** The log entry `recordLogged` makes for `type` on the account's subject at NOW. */
export const entry = (type: string, userId = UID) => ({
  v: 1,
  type,
  subject: userLogSubject(userId),
  time: NOW,
});

/** Rejects with exactly this error class and code (and retry-after, when given). */
export async function rejectsWith(
  p: Promise<unknown>,
  code: string,
  cls: 'HostError' | 'EnclaveCallError' = 'HostError',
  retryAfterSeconds?: number,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof (cls === 'HostError' ? HostError : EnclaveCallError), String(err));
    assert.equal((err as { code: string }).code, code);
    if (retryAfterSeconds !== undefined)
      assert.equal((err as HostError).retryAfterSeconds, retryAfterSeconds);
    return true;
  });
}

/** Lets not-awaited work (a mail sent after the answer) run. */
export const settle = () => new Promise((r) => setImmediate(r));
