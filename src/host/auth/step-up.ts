/**
 * Step-up for sensitive operations (docs/protocol/auth.md "Step-up"): the caller's access token,
 * signed by the enclave, must come from a login less than AUTH_STEP_UP_SECONDS ago (`auth_time`)
 * by one of the acceptable factors (`amr`, RFC 8176); else 401 STEP_UP_REQUIRED naming them.
 * The claims are the enclave's, so the host cannot grant a step-up that did not happen (it can
 * only refuse one). Tokens from a refresh carry no `auth_time` and never pass.
 */
import type { FastifyRequest } from 'fastify';
import { HostError } from '../errors.js';
import type { AuthGuard } from './guard.js';

/**
 * RFC 8176 values this service issues for a login: password, one-time code, SIWE (software
 * key), passkey (hardware-bound key).
 */
export const FACTORS = ['pwd', 'otp', 'swk', 'hwk'] as const;
export type Factor = (typeof FACTORS)[number];

/**
 * `secondFactors`: the second factors the account has enrolled (`totp`, `recovery_code`,
 * `passkey`). Such an account needs `mfa` in `amr` (a login or POST /auth/step-up with one of
 * them) within the window, and STEP_UP_REQUIRED names them; one without needs a recent login
 * by any of `factors`.
 */
export function createStepUp(
  guard: Pick<AuthGuard, 'claims'>,
  windowSeconds: number,
  secondFactors: (userId: string) => Promise<readonly string[]> = async () => [],
) {
  /** An onRequest/preHandler hook for a route that needs a recent `factors` authentication. */
  return function requireStepUp(factors: readonly Factor[] = FACTORS) {
    return async (request: FastifyRequest): Promise<void> => {
      const claims = await guard.claims(request);
      const now = Math.floor(Date.now() / 1000);
      const recent = claims.auth_time !== undefined && now - claims.auth_time <= windowSeconds;
      const amr = claims.amr ?? [];
      const second = await secondFactors(claims.sub);
      if (second.length > 0) {
        if (!recent || !amr.includes('mfa'))
          throw new HostError('STEP_UP_REQUIRED', [
            { path: 'amr', issue: `step up with a second factor: ${second.join(', ')}` },
          ]);
        return;
      }
      const factor = amr.some((m) => (factors as readonly string[]).includes(m));
      if (!recent || !factor)
        throw new HostError('STEP_UP_REQUIRED', [
          { path: 'amr', issue: `log in again with one of: ${factors.join(', ')}` },
        ]);
    };
  };
}
export type RequireStepUp = ReturnType<typeof createStepUp>;
