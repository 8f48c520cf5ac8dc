/**
 * The step-up rule (src/host/auth/step-up.ts) on its own: which signed claims pass a sensitive
 * route. The claims come from the enclave's token; here a fake guard hands them over, so each
 * rule is checked alone. A passkey login (amr hwk) is a recent authentication like a password
 * login: without it in the factors, a passkey-only account could never pass step-up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { createStepUp } from '../../src/host/auth/step-up.js';
import { HostError } from '../../src/host/errors.js';

const now = () => Math.floor(Date.now() / 1000);
const check = async (
  claims: { sub: string; amr?: string[]; auth_time?: number },
  secondFactor: boolean | string[] = false,
  details?: unknown[],
) => {
  const guard = { claims: async () => claims } as never;
  const factors =
    secondFactor === true ? ['totp', 'recovery_code'] : secondFactor === false ? [] : secondFactor;
  const hook = createStepUp(guard, 300, async () => factors)();
  return hook({} as FastifyRequest).then(
    () => 'ok',
    (err: unknown) => {
      if (err instanceof HostError) details?.push(...(err.details ?? []));
      return err instanceof HostError ? err.code : 'other';
    },
  );
};

describe('step-up rule', () => {
  it('a recent login by password, one-time code, SIWE or passkey passes (no second factor enrolled)', async () => {
    for (const m of ['pwd', 'otp', 'swk', 'hwk'])
      assert.equal(await check({ sub: 'u', amr: [m], auth_time: now() - 10 }), 'ok', m);
  });

  it('an old login, a refreshed token (no auth_time) or an unknown method is refused', async () => {
    assert.equal(
      await check({ sub: 'u', amr: ['hwk'], auth_time: now() - 301 }),
      'STEP_UP_REQUIRED',
    );
    assert.equal(await check({ sub: 'u', amr: ['pwd'] }), 'STEP_UP_REQUIRED');
    assert.equal(
      await check({ sub: 'u', amr: ['kba'], auth_time: now() - 10 }),
      'STEP_UP_REQUIRED',
    );
  });

  it('with a second factor enrolled only mfa passes, and only when recent', async () => {
    assert.equal(
      await check({ sub: 'u', amr: ['pwd'], auth_time: now() - 10 }, true),
      'STEP_UP_REQUIRED',
    );
    assert.equal(
      await check({ sub: 'u', amr: ['hwk', 'user', 'mfa'], auth_time: now() - 10 }, true),
      'ok',
    );
    assert.equal(
      await check({ sub: 'u', amr: ['pwd', 'otp', 'mfa'], auth_time: now() - 400 }, true),
      'STEP_UP_REQUIRED',
    );
  });

  it('STEP_UP_REQUIRED names the second factors the account has, passkey included', async () => {
    const details: unknown[] = [];
    const r = await check(
      { sub: 'u', amr: ['pwd'], auth_time: now() - 10 },
      ['totp', 'recovery_code', 'passkey'],
      details,
    );
    assert.equal(r, 'STEP_UP_REQUIRED');
    assert.deepEqual(details, [
      { path: 'amr', issue: 'step up with a second factor: totp, recovery_code, passkey' },
    ]);
  });
});
