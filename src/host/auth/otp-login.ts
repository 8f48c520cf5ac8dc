/**
 * Email one-time codes, the host's part (docs/protocol/auth.md "Email one-time codes"). The
 * enclave draws, mails and checks the code; the host never sees it. `otpStart` answers the same
 * (202) whatever happened, so it tells nobody whether an address has an account, was sent a
 * code, or hit its hourly limit; what happened goes to the host log (never the address). On the
 * simulated platform without SMTP_URL the enclave hands back the rendered mail, written here
 * under DATA_DIR/mail/ for the default run.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { userLogSubject } from '../../protocol/auth.js';
import type { AuthSecret, OtpPurpose, SecondFactor } from '../../protocol/rpc/auth-methods.js';
import type { MethodResult } from '../../protocol/rpc/methods.js';
import { recordLogged, type LoginMethod } from '../ops-events.js';
import type { Queryable } from '../db/database.js';
import { isEnclaveCallError } from '../enclave-client/rpc-client.js';
import { HostError } from '../errors.js';
import type { AuthServiceDeps } from './auth-service.js';
import { createMethodLogin, type MethodLoginResult } from './method-login.js';
import { pair, reasonOf, type TokenPair } from './token-pair.js';
import type { Role } from '../../protocol/auth.js';

/** A wrong or locked mailed code: counted toward the address's backoff (others are refunded). */
const isCodeFailure = (err: unknown) =>
  isEnclaveCallError(err, 'AUTH_OTP_INVALID') || isEnclaveCallError(err, 'AUTH_OTP_LOCKED');

/**
 * What a code sent without a session answers when wrong or locked: the enclave's
 * AUTH_OTP_LOCKED (five wrong tries) becomes AUTH_OTP_INVALID. Only some addresses hold a code
 * (a reset, recovery or confirmation code goes to an account's address, or a new one; a link
 * code only to a free address; a sign-in code not to an address whose hourly mails those used
 * up), and one that holds none never locks: the fifth wrong code would tell the two apart.
 */
export const sameForStrangers = (err: unknown) =>
  isEnclaveCallError(err, 'AUTH_OTP_LOCKED') ? new HostError('AUTH_OTP_INVALID') : err;

/** A method binding of the right shape that no account has (the enclave refuses it). */
const NO_BINDING = `mb1.${'A'.repeat(43)}`;
/** A sealed password of the right shape that opens for no account (a dummy verify runs). */
const NO_PASSWORD = `ph1.${'A'.repeat(64)}`;

/**
 * What a password reset and an account recovery share: a mailed code checked by the enclave
 * for the account linked to the address (throttled per address), and the new password set with
 * every session ended, in one transaction with the ops event and the transparency-log entry.
 */
export function createResetFlow(deps: AuthServiceDeps) {
  const { throttle, repo, log, ops, verifier } = deps;
  return {
    async withCode<T>(
      slot: 'reset' | 'recovery',
      method: LoginMethod,
      email: string,
      call: (user: { user_id: string; binding: string }, userId: string) => Promise<T>,
    ): Promise<{ userId: string; r: T }> {
      const key = `${slot}:${email}`;
      const wait = await throttle.begin(key);
      if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
      const audit = { userId: null as string | null };
      let r: T;
      try {
        const row = await repo.findUserByMethod('email', email);
        audit.userId = row?.user_id ?? null;
        if (!row || row.status !== 'active') {
          // No active account: the same enclave call (with an account that matches nothing),
          // then the same answer as a wrong code, so neither the answer nor its time tells.
          const nobody = randomUUID();
          await call({ user_id: nobody, binding: NO_BINDING }, nobody).catch(() => undefined);
          throw new HostError('AUTH_OTP_INVALID');
        }
        r = await call({ user_id: row.user_id, binding: row.binding }, row.user_id);
      } catch (err) {
        const counted = err instanceof HostError || isCodeFailure(err);
        if (!counted) await throttle.refund(key).catch(() => undefined);
        ops.emit({
          type: 'auth.login_failed',
          userId: audit.userId,
          reason: reasonOf(err),
          method,
        });
        throw sameForStrangers(err);
      }
      await throttle.succeeded(key);
      return { userId: audit.userId!, r };
    },

    /**
     * `opts.ifStill`: write only if the password is still `expected` (compare-and-set in the
     * same statement), else throw `refused` and write nothing.
     */
    async setPassword(
      userId: string,
      sealed: string,
      event: { type: 'auth.password_reset' | 'auth.recovery_completed' },
      opts: {
        alsoInTx?: (tx: Queryable) => Promise<void>;
        ifStill?: { expected: string | null; refused: HostError };
      } = {},
    ): Promise<void> {
      await log.commit({
        async work(tx) {
          await opts.alsoInTx?.(tx);
          if (!opts.ifStill) await repo.upsertPassword(tx, userId, sealed);
          else if (!(await repo.swapPassword(tx, userId, opts.ifStill.expected, sealed)))
            throw opts.ifStill.refused;
          const revoked = await repo.revokeAllSessions(tx, userId, 'logout_all');
          const entry = await recordLogged(
            ops,
            tx,
            { type: event.type, userId, revoked },
            userLogSubject(userId),
          );
          return { result: undefined, entries: [entry] };
        },
      });
      verifier.forget();
    },
  };
}

export function createOtpLogin(deps: AuthServiceDeps) {
  const { enclave, throttle, logger, repo, ops } = deps;
  const methods = createMethodLogin(deps);
  const reset = createResetFlow(deps);

  /** A confirmed TOTP, a passkey, or a pending account recovery. */
  async function secondFactorOrRecovery(userId: string): Promise<boolean> {
    return (
      (await repo.confirmedTotp(userId)) !== null ||
      (await repo.passkeyIds(userId)).length > 0 ||
      (await repo.pendingRecovery(userId)) !== null
    );
  }

  async function writeDevMail(mail: { from: string; to: string; subject: string; text: string }) {
    if (!deps.mailDir) return;
    await mkdir(deps.mailDir, { recursive: true, mode: 0o700 });
    const file = join(
      deps.mailDir,
      `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`,
    );
    const text = `From: ${mail.from}\nTo: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}`;
    await writeFile(file, text, { mode: 0o600 });
    // Development only (simulated platform, no SMTP_URL): say where the mail is, not what.
    logger.warn({ file }, 'no SMTP_URL: one-time-code mail written to a file (simulated platform)');
  }

  /** `accessToken`: purpose `link` only, the account the code is bound to. */
  async function otpStart(
    email: string,
    purpose: OtpPurpose = 'login',
    accessToken?: string,
  ): Promise<void> {
    try {
      const r = await enclave.call('auth.otp_start', {
        email,
        purpose,
        ...(accessToken !== undefined ? { access_token: accessToken } : {}),
      });
      if (r.dev_mail) await writeDevMail(r.dev_mail);
    } catch (err) {
      logger.warn({ code: reasonOf(err) }, 'one-time code not sent');
    }
  }

  return {
    otpStart,

    /**
     * Registration with confirmation (AUTH_REQUIRE_EMAIL_CONFIRMATION): the same enclave work
     * (one Argon2id hash) and the same 202 for a new and a taken address, so the answer tells
     * nothing. A new address gets a `pending` account (replacing an unconfirmed one) and a
     * confirmation code; a taken one gets nothing.
     */
    async registerPending(email: string, secret: AuthSecret): Promise<void> {
      const existing = await repo.findAccountByEmail(email);
      const r = await enclave.call('auth.register', { email, secret });
      if (existing && existing.status !== 'pending') return;
      if (!(await repo.insertUser(r.user_id, email, r.password_sealed, r.email_binding, 'pending')))
        return;
      await ops.record(repo.db, { type: 'auth.registered', userId: r.user_id });
      // Not awaited: a taken address gets no mail, so waiting for this one would tell them apart.
      void otpStart(email, 'confirm');
    },

    /** The confirmation code of a pending account: it becomes active and can log in. */
    async confirmRegistration(
      email: string,
      code: string,
      secret: AuthSecret,
    ): Promise<{ user_id: string }> {
      const key = `confirm:${email}`;
      const wait = await throttle.begin(key);
      if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
      const row = await repo.findUserByMethod('email', email);
      // A taken (or unknown) address: the same enclave call (an account that matches nothing),
      // then the answer of a wrong code, so neither the answer nor its time tells.
      // (Counted toward the backoff, as a wrong code is.)
      const pending = row?.status === 'pending' ? row : null;
      const sealed = pending ? await repo.sealedPassword(pending.user_id) : null;
      const user = pending
        ? { user_id: pending.user_id, binding: pending.binding }
        : { user_id: randomUUID(), binding: NO_BINDING };
      try {
        await enclave.call('auth.confirm_email', {
          email,
          code,
          secret,
          user: { ...user, password_sealed: sealed ?? NO_PASSWORD },
        });
      } catch (err) {
        if (!pending) throw new HostError('AUTH_OTP_INVALID');
        if (!isCodeFailure(err)) await throttle.refund(key).catch(() => undefined);
        throw sameForStrangers(err);
      }
      if (!pending) throw new HostError('AUTH_OTP_INVALID');
      await throttle.succeeded(key);
      await repo.db.transaction(async (tx) => {
        if (await repo.activate(tx, pending.user_id))
          await ops.record(tx, { type: 'auth.email_confirmed', userId: pending.user_id });
      });
      return { user_id: pending.user_id };
    },

    /**
     * A reset code goes only to an address linked to an active account (a stranger or a
     * disabled account gets no mail); the answer is the same 202 either way, and comes before
     * the mail is sent.
     */
    async passwordResetStart(email: string): Promise<void> {
      const row = await repo.findUserByMethod('email', email);
      // Not awaited, as at registration: the answer's time must not depend on the mail.
      if (row?.status === 'active') void otpStart(email, 'reset');
    },

    /**
     * A new password with a reset code. Every session of the account ends (whoever had the old
     * password is out), in one transaction with the ops event and the transparency-log entry.
     */
    async passwordReset(email: string, code: string, secret: AuthSecret): Promise<void> {
      const { userId, r } = await reset.withCode('reset', 'password_reset', email, (user) =>
        enclave.call('auth.password_reset', { email, code, secret, user }),
      );
      // An account with a second factor (or a pending recovery) changes its password by mail
      // only through account recovery and its time-lock: an immediate reset would let a mailbox
      // holder end the owner's sessions (so the owner cannot cancel) and wait out the lock.
      // Checked after the code, so the answer tells only the mailbox's holder.
      if (await secondFactorOrRecovery(userId)) throw new HostError('AUTH_RECOVERY_REQUIRED');
      await reset.setPassword(userId, r.password_sealed, { type: 'auth.password_reset' });
    },

    /** Step-up by email (accounts without TOTP): mails a `step_up` code to the account's email. */
    async stepUpEmailStart(userId: string): Promise<void> {
      const method = await repo.emailMethodOf(userId);
      if (!method) throw new HostError('AUTH_METHOD_NOT_FOUND');
      if (await repo.confirmedTotp(userId)) throw new HostError('AUTH_MFA_REQUIRED');
      await otpStart(method.email, 'step_up');
    },

    /** The mailed `step_up` code: a fresh pair for this session, `amr` + `otp` (not `mfa`). */
    async stepUpEmail(
      accessToken: string,
      userId: string,
      roles: Role[],
      code: string,
    ): Promise<TokenPair> {
      const method = await repo.emailMethodOf(userId);
      if (!method) throw new HostError('AUTH_METHOD_NOT_FOUND');
      // With TOTP the step-up rule wants `mfa`, which a mailbox does not give.
      if (await repo.confirmedTotp(userId)) throw new HostError('AUTH_MFA_REQUIRED');
      // Wrong codes count toward a backoff of the account's own: one shared with sign-in codes
      // would let anyone who types the address delay the owner's step-up by 15 minutes. (Only a
      // session of the account reaches this, and the enclave still locks a code after 5 tries.)
      const key = `step_up:${userId}`;
      const wait = await throttle.begin(key);
      if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
      let r: MethodResult<'auth.step_up_email'>;
      try {
        r = await enclave.call('auth.step_up_email', {
          access_token: accessToken,
          roles,
          email: method.email,
          binding: method.binding,
          code,
        });
      } catch (err) {
        if (!isCodeFailure(err)) await throttle.refund(key).catch(() => undefined);
        throw err;
      }
      await throttle.succeeded(key);
      if (r.user_id !== userId) throw new HostError('AUTH_TOKEN_INVALID');
      await repo.db.transaction((tx) =>
        repo.addRefresh(tx, r.session_id, r.user_id, r.refresh_hash, r.refresh_expires_at),
      );
      await ops.record(repo.db, { type: 'auth.step_up', userId, factor: 'email_code' });
      return pair(r);
    },

    async otpVerify(
      email: string,
      code: string,
      second?: SecondFactor,
    ): Promise<MethodLoginResult> {
      return methods.audited('email', async (audit) => {
        const key = `otp:${email}`;
        const wait = await throttle.begin(key);
        if (wait > 0) throw new HostError('AUTH_LOGIN_LOCKED', undefined, Math.ceil(wait / 1000));
        let r: MethodResult<'auth.otp_verify'>;
        try {
          const user = await methods.linkedUser('email', email, audit);
          r = await enclave.call('auth.otp_verify', {
            email,
            code,
            user,
            ...(second ? { second } : {}),
          });
        } catch (err) {
          if (!isCodeFailure(err) && !isEnclaveCallError(err, 'AUTH_MFA_INVALID'))
            await throttle.refund(key).catch(() => undefined);
          throw sameForStrangers(err);
        }
        await throttle.succeeded(key);
        audit.userId = r.user_id;
        return methods.finish('email', email, r, 'AUTH_EMAIL_TAKEN');
      });
    },
  };
}
