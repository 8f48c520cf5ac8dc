/**
 * Recording stand-ins for the auth services' sinks (src/host/auth), shared by the in-process
 * service tests of the mutation run: test/mutation-killers/auth-service.test.ts and
 * test/mutation-killers/host-signin-world.ts. Each records what it gets, in order.
 */
import assert from 'node:assert/strict';
import type { AuthConfig } from '../../src/host/auth/config.js';
import type { LoginThrottle } from '../../src/host/auth/login-throttle.js';
import type { OpsEvent, OpsEventRow, OpsLog } from '../../src/host/ops-events.js';

/** The auth settings the service tests run with. */
export const AUTH_CONFIG: AuthConfig = {
  disabledForDevelopment: false,
  issuer: 'https://issuer.test',
  audience: 'aud',
  accessTtlSeconds: 900,
  refreshTtlSeconds: 86400,
  refreshGraceSeconds: 60,
  keyRotationIntervalMs: 10_000,
  keyPrepublishSeconds: 3600,
  loginMaxPerIp: 30,
  loginFailuresBeforeBackoff: 5,
  registerMaxPerIp: 10,
  cookies: false,
  stepUpSeconds: 300,
  requireEmailConfirmation: false,
};

/**
 * The login throttle: records `begin <key>`, `refund <key>`, `succeeded <key>`; `begin` answers
 * the wait set by `setWait` (0 at first); `refund` throws once `setRefundFails(true)`. The
 * services check and count in one step, so `waitMs` and `failed` fail the test.
 */
export function recordingThrottle() {
  const calls: string[] = [];
  let wait = 0;
  let refundFails = false;
  const throttle = {
    begin: async (key: string) => (calls.push(`begin ${key}`), wait),
    refund: async (key: string) => {
      calls.push(`refund ${key}`);
      if (refundFails) throw new Error('redis down');
    },
    succeeded: async (key: string) => void calls.push(`succeeded ${key}`),
    waitMs: async () => assert.fail('the services check and count in one step (begin)'),
    failed: async () => assert.fail('a failure is counted by begin'),
  } satisfies LoginThrottle;
  return {
    throttle,
    calls,
    setWait: (w: number) => (wait = w),
    setRefundFails: (f: boolean) => (refundFails = f),
  };
}

/**
 * The ops log: `recorded` holds each recorded event with where it was written (`q`, through
 * `name` when given; `'session'` for an event written by the session's own statement),
 * `emitted` each log-only event; `onRecord` sees each event first.
 */
export function recordingOps(
  opts: { name?: (q: unknown) => unknown; onRecord?: (event: OpsEvent) => void } = {},
) {
  const recorded: { q: unknown; event: OpsEvent }[] = [];
  const emitted: unknown[] = [];
  const ops = {
    record: async (q: unknown, event: OpsEvent) => {
      opts.onRecord?.(event);
      recorded.push({ q: opts.name ? opts.name(q) : q, event });
    },
    // An event written by the caller's own statement (the login's session): recorded, as
    // written in `session`, once that statement succeeded.
    row: (event: OpsEvent) => ({
      row: ['ROW', event.type] as unknown as OpsEventRow['row'],
      written: () => {
        opts.onRecord?.(event);
        recorded.push({ q: 'session', event });
      },
    }),
    emit: (event: unknown) => void emitted.push(event),
  } satisfies OpsLog;
  return { ops, recorded, emitted };
}
