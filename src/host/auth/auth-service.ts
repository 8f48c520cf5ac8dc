/**
 * The authentication use cases (docs/protocol/auth.md): register, login, refresh with rotation
 * and theft detection, logout, logout-all, JWT key rollover. The enclave checks passwords and
 * signs; the host stores sealed blobs and token digests and decides, from its rows, whether a
 * refresh token is fresh, a retry within the grace window (only while its successor is
 * unused), or a reuse. A reuse revokes every session of the user and is recorded in the
 * transparency log in the same transaction.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { userLogSubject, type Role } from '../../protocol/auth.js';
import type { AuthSecret, SecondFactor } from '../../protocol/rpc/auth-methods.js';
import type { MethodName, MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import type { AuthRepository } from '../db/repositories/auth.js';
import { isEnclaveCallError } from '../enclave-client/rpc-client.js';
import { rotateSealed } from '../enclave-client/sealed-rotation.js';
import type { JobLease } from '../jobs/lease.js';
import { HostError } from '../errors.js';
import { createPeriodicJob, type Clock } from '../jobs/periodic.js';
import type { LogService } from '../log/log-service.js';
import { recordLogged, type OpsLog } from '../ops-events.js';
import type { AuthConfig } from './config.js';
import type { LoginThrottle } from './login-throttle.js';
import { createMethodsService } from './methods-service.js';
import { createOtpLogin } from './otp-login.js';
import { createSiweLogin } from './siwe-login.js';
import { createTotpService } from './totp-service.js';
import { createPasskeyService } from './passkey-service.js';
import { createRecoveryService } from './recovery-service.js';
import { nowSeconds, pair, reasonOf, type TokenPair } from './token-pair.js';
import type { TokenVerifier } from './verifier.js';

export type { TokenPair } from './token-pair.js';

type Call = <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;

export interface AuthServiceDeps {
  enclave: { call: Call };
  repo: AuthRepository;
  log: Pick<LogService, 'commit' | 'isReady'>;
  verifier: TokenVerifier;
  throttle: LoginThrottle;
  ops: OpsLog;
  config: AuthConfig;
  logger: Logger;
  /** Where one-time-code mails go without SMTP_URL on the simulated platform (DATA_DIR/mail). */
  mailDir?: string;
  clock?: Clock;
  /** Several instances on one database: the key rotation runs on one of them (lease.ts). */
  lease?: Pick<JobLease, 'acquire'>;
}

/** Expired keys leave the JWKS by time, so the host re-reads it this often. */
const JWKS_REFRESH_MS = 30_000;

const sha256Hex = (s: string) => createHash('sha256').update(s, 'ascii').digest('hex');

export function createAuthService(deps: AuthServiceDeps) {
  const { enclave, repo, log, verifier, throttle, config, ops, logger } = deps;
  const clock = deps.clock ? { clock: deps.clock } : {};
  const totp = createTotpService(deps);

  /**
   * Sets the JWKS from the enclave, after handing it the newest stored auth keyring: with
   * several instances another member may have rotated (the enclave moves only to a newer
   * generation). Runs every JWKS_REFRESH_MS and when a token names an unknown kid.
   */
  // The newest generation this enclave was handed (by initEnclave, a reload or a rotation
  // here). A stored keyring no newer is not unsealed again: auth.jwks is enough to drop
  // expired keys, and an unseal every JWKS_REFRESH_MS is wasted enclave work.
  let handed = -1;
  async function refreshJwks(call: Call = enclave.call): Promise<void> {
    const latest = await repo.latestKeyring();
    if (latest && latest.generation > handed) {
      const r = await call('auth.init', { sealed: latest.sealed });
      handed = Math.max(handed, r.generation);
      verifier.setJwks({ keys: r.keys });
      return;
    }
    const r = await call('auth.jwks', {});
    verifier.setJwks({ keys: r.keys });
  }
  verifier.setReload?.(() => refreshJwks());

  async function revokeAllForReuse(userId: string): Promise<void> {
    await log.commit({
      async work(tx) {
        const revoked = await repo.revokeAllSessions(tx, userId, 'refresh_reused');
        const entry = await recordLogged(
          ops,
          tx,
          { type: 'auth.refresh_reused', userId, revoked },
          userLogSubject(userId),
        );
        return { result: undefined, entries: [entry] };
      },
    });
    // After the commit, so no check in between can cache a session as still active.
    verifier.forget();
  }

  async function attemptLogin(
    email: string,
    secret: AuthSecret,
    audit: { userId: string | null },
    second: SecondFactor | undefined,
  ): Promise<TokenPair & { user_id: string }> {
    // Counted as a failure before the Argon2id check, in the same atomic step as the backoff
    // check: otherwise every guess in flight passes the check before any is recorded.
    const wait = await throttle.begin(email);
    if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
    let r: MethodResult<'auth.login'>;
    try {
      // One statement: the account, its confirmed TOTP secret and its recovery-code MACs.
      const user = await repo.findLoginUser(email);
      audit.userId = user?.user_id ?? null;
      const known =
        user && user.status === 'active'
          ? {
              user_id: user.user_id,
              password_sealed: user.password_sealed,
              roles: user.roles,
              totp_sealed: user.totp_sealed,
              recovery_macs: user.recovery_macs,
            }
          : null;
      r = await enclave.call('auth.login', {
        email,
        secret,
        user: known,
        ...(second ? { second } : {}),
      });
    } catch (err) {
      // A wrong password stays counted; anything else (database, enclave down) gives it back.
      // A wrong second-factor code counts too: it is a guess at the account's TOTP.
      if (
        !isEnclaveCallError(err, 'AUTH_INVALID_CREDENTIALS') &&
        !isEnclaveCallError(err, 'AUTH_MFA_INVALID')
      )
        await throttle.refund(email).catch(() => undefined);
      throw err;
    }
    await throttle.succeeded(email);
    // The session (with its first refresh token), the login's audit event and a rehashed
    // password commit together: one commit (one WAL write, one fsync on PostgreSQL) per login,
    // and a failed password store cannot leave a session behind a login that answers an error.
    // Without a rehash that is one statement (session, token and event), with no transaction.
    const rehashed = r.password_sealed;
    await totp.storeSecondFactorSession(
      r,
      false,
      rehashed ? (tx) => repo.updatePassword(r.user_id, rehashed, tx) : undefined,
      { type: 'auth.login_succeeded', userId: r.user_id },
    );
    return { user_id: r.user_id, ...pair(r) };
  }

  const otpLogin = createOtpLogin(deps);
  const service = {
    ...createSiweLogin(deps),
    ...otpLogin,
    ...createRecoveryService(deps, otpLogin.otpStart),
    ...createMethodsService(deps, otpLogin.otpStart),
    ...totp,
    ...createPasskeyService(deps),

    /** Enclave ready hook: hand back the sealed auth keyring, or store the first one. */
    async initEnclave(call: Call): Promise<void> {
      const latest = await repo.latestKeyring();
      const r = await call('auth.init', { sealed: latest?.sealed ?? null });
      if (r.sealed !== null) await repo.insertKeyring(r.generation, r.sealed);
      // A (re)started enclave holds exactly what it was just handed.
      handed = r.generation;
      verifier.setJwks({ keys: r.keys });
    },

    jwks: () => verifier.jwks(),
    refreshJwks: () => refreshJwks(),

    async register(email: string, secret: AuthSecret): Promise<{ user_id: string }> {
      if (await repo.findUserByEmail(email)) throw new HostError('AUTH_EMAIL_TAKEN');
      const r = await enclave.call('auth.register', { email, secret });
      if (!(await repo.insertUser(r.user_id, email, r.password_sealed, r.email_binding)))
        throw new HostError('AUTH_EMAIL_TAKEN');
      await ops.record(repo.db, { type: 'auth.registered', userId: r.user_id });
      return { user_id: r.user_id };
    },

    /** Every attempt leaves an audit event: success, or failure with its reason code. */
    async login(
      email: string,
      secret: AuthSecret,
      second?: SecondFactor,
    ): Promise<TokenPair & { user_id: string }> {
      const audit = { userId: null as string | null };
      try {
        return await attemptLogin(email, secret, audit, second);
      } catch (err) {
        ops.emit({ type: 'auth.login_failed', userId: audit.userId, reason: reasonOf(err) });
        throw err;
      }
    },

    async refresh(token: string): Promise<TokenPair> {
      const hash = sha256Hex(token);
      // One statement reads the token, its session, its successor and the account.
      let row = await repo.findRefresh(hash);
      if (!row || row.session_revoked || row.expires_at <= nowSeconds())
        throw new HostError('AUTH_REFRESH_INVALID');
      if (row.user_status !== 'active') throw new HostError('AUTH_REFRESH_INVALID');
      const ids = { refresh_token: token, user_id: row.user_id, session_id: row.session_id };
      if (row.used_at === null) {
        const r = await enclave.call('auth.refresh', { ...ids, roles: row.roles });
        const won = await repo.rotate(hash, r.sealed_response, {
          hash: r.refresh_hash,
          sessionId: row.session_id,
          userId: row.user_id,
          expiresAt: r.refresh_expires_at,
        });
        if (won) return pair(r);
        // Another request rotated it first: this one is a retry of the same token.
        row = (await repo.findRefresh(hash))!;
      }
      const withinGrace =
        row.used_at !== null && nowSeconds() - row.used_at <= config.refreshGraceSeconds;
      // A retry may only get back a pair nobody has used yet: once the successor was refreshed
      // too, replaying its pair would revive a spent token (A→B, B→C, A again yields B).
      if (withinGrace && row.sealed_response && !row.child_used) {
        try {
          return pair(
            await enclave.call('auth.refresh_replay', {
              ...ids,
              sealed_response: row.sealed_response,
            }),
          );
        } catch (err) {
          if (!isEnclaveCallError(err, 'AUTH_REFRESH_REUSED')) throw err;
        }
      }
      // A used token presented again (its hash matched, so it is genuine): the token or its
      // successor was stolen. End every session of the user.
      await revokeAllForReuse(row.user_id);
      throw new HostError('AUTH_REFRESH_REUSED');
    },

    async logout(userId: string, sessionId: string): Promise<void> {
      await repo.revokeSession(repo.db, sessionId, userId, 'logout');
      verifier.forget();
      await ops.record(repo.db, { type: 'auth.logout', userId });
    },

    async logoutAll(userId: string): Promise<number> {
      const n = await repo.revokeAllSessions(repo.db, userId, 'logout_all');
      verifier.forget();
      await ops.record(repo.db, { type: 'auth.logout_all', userId, revoked: n });
      return n;
    },

    /**
     * Rollover: prepare → store, record and log (one transaction) → activate. Fail closed.
     * `operatorId`: the operator who asked (null: the schedule).
     */
    async rotateKeys(
      operatorId: string | null = null,
    ): Promise<{ generation: number; kid: string }> {
      return rotateSealed(
        { log, ops },
        {
          prepare: () => enclave.call('auth.prepare_rotation', {}),
          persist: (tx, p) => repo.insertKeyring(p.generation, p.sealed, tx),
          logged: (p) => ({
            event: { type: 'auth.key_rotated', generation: p.generation, keyId: p.kid, operatorId },
            subject: p.kid,
          }),
          async activate(p) {
            const r = await enclave.call('auth.activate', {
              generation: p.generation,
              sealed: p.sealed,
            });
            handed = Math.max(handed, r.generation);
            verifier.setJwks({ keys: r.keys });
            return { generation: r.generation, kid: p.kid };
          },
        },
      );
    },

    /**
     * Grants or revokes a role; the change, its ops event (who did it) and its transparency-log
     * entry (the user's log subject) commit together or not at all.
     */
    async setRole(
      action: 'grant' | 'revoke',
      email: string,
      role: Role,
      by: string,
    ): Promise<{ user_id: string }> {
      const logged = await log.commit({
        async work(tx) {
          const id =
            action === 'grant'
              ? await repo.grantRole(email, role, tx)
              : await repo.revokeRole(email, role, tx);
          if (id === null) throw new HostError('USER_NOT_FOUND');
          const type = action === 'grant' ? 'auth.role_granted' : 'auth.role_revoked';
          const entry = await recordLogged(
            ops,
            tx,
            { type, userId: id, role, by },
            userLogSubject(id),
          );
          return { result: id, entries: [entry] };
        },
      });
      // A revocation ended the user's sessions: no cached check may still accept them.
      verifier.forget();
      return { user_id: logged.result };
    },

    start(): void {
      jwksJob.start();
      rotationJob.start();
    },
    async stop(): Promise<void> {
      await Promise.all([jwksJob.stop(), rotationJob.stop()]);
    },
  };
  const jwksJob = createPeriodicJob({
    name: 'jwks refresh',
    everyMs: JWKS_REFRESH_MS,
    run: () => refreshJwks(),
    logger,
    ...clock,
  });
  // Counted from the stored keyring's time, so a restart does not postpone the rollover.
  const rotationJob = createPeriodicJob({
    name: 'auth key rotation',
    everyMs: config.keyRotationIntervalMs,
    lastRunAt: async () => {
      const t = await repo.latestKeyringTime();
      return t === null ? undefined : new Date(t);
    },
    run: () => service.rotateKeys(),
    ...(deps.lease ? { lease: () => deps.lease!.acquire('auth key rotation') } : {}),
    logger,
    ...clock,
  });
  return service;
}
export type AuthService = ReturnType<typeof createAuthService>;
