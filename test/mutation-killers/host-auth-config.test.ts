/**
 * The host's auth settings (src/host/auth/config.ts) through `loadConfig`, for the mutation
 * run (docs/mutation-testing.md): every default, every bound (the last value accepted on each
 * side and the first refused), and how each variable maps onto `config.auth`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/host/config.js';

const auth = (env: Record<string, string> = {}) => loadConfig(env).auth;

describe('host auth config', () => {
  it('defaults', () => {
    assert.deepEqual(auth(), {
      disabledForDevelopment: false,
      issuer: 'http://127.0.0.1:3000',
      audience: 'cloister',
      accessTtlSeconds: 900,
      refreshTtlSeconds: 30 * 86400,
      refreshGraceSeconds: 5,
      keyRotationIntervalMs: 30 * 86400 * 1000,
      keyPrepublishSeconds: 60,
      loginMaxPerIp: 30,
      loginFailuresBeforeBackoff: 5,
      registerMaxPerIp: 10,
      cookies: false,
      stepUpSeconds: 300,
      requireEmailConfirmation: false,
    });
  });

  it('each variable reaches its own field', () => {
    assert.deepEqual(
      auth({
        AUTH_DISABLED_FOR_DEVELOPMENT: 'true',
        AUTH_ISSUER: 'https://id.example.test',
        AUTH_AUDIENCE: 'aud-x',
        AUTH_ACCESS_TOKEN_TTL_SECONDS: '61',
        AUTH_REFRESH_TOKEN_TTL_SECONDS: '301',
        AUTH_REFRESH_GRACE_SECONDS: '7',
        AUTH_KEY_ROTATION_INTERVAL_SECONDS: '3',
        AUTH_KEY_PREPUBLISH_SECONDS: '11',
        AUTH_LOGIN_MAX_PER_IP: '12',
        AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '13',
        AUTH_REGISTER_MAX_PER_IP: '14',
        AUTH_COOKIES: 'true',
        AUTH_STEP_UP_SECONDS: '120',
        AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
      }),
      {
        disabledForDevelopment: true,
        issuer: 'https://id.example.test',
        audience: 'aud-x',
        accessTtlSeconds: 61,
        refreshTtlSeconds: 301,
        refreshGraceSeconds: 7,
        keyRotationIntervalMs: 3000,
        keyPrepublishSeconds: 11,
        loginMaxPerIp: 12,
        loginFailuresBeforeBackoff: 13,
        registerMaxPerIp: 14,
        cookies: true,
        stepUpSeconds: 120,
        requireEmailConfirmation: true,
      },
    );
  });

  it('email confirmation: required by default exactly when SMTP_URL is set; the variable wins', () => {
    const smtp = 'smtp://mail.example.test:587';
    const confirm = (env: Record<string, string>) => auth(env).requireEmailConfirmation;
    assert.equal(confirm({}), false);
    assert.equal(confirm({ SMTP_URL: smtp }), true);
    assert.equal(confirm({ SMTP_URL: smtp, AUTH_REQUIRE_EMAIL_CONFIRMATION: 'false' }), false);
    assert.equal(confirm({ SMTP_URL: smtp, AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true' }), true);
    assert.equal(confirm({ AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true' }), true);
    assert.equal(confirm({ AUTH_REQUIRE_EMAIL_CONFIRMATION: 'false' }), false);
  });

  it('booleans are exactly "true" or "false"', () => {
    for (const name of ['AUTH_DISABLED_FOR_DEVELOPMENT', 'AUTH_COOKIES']) {
      assert.doesNotThrow(() => auth({ [name]: 'false' }));
      for (const bad of ['1', 'yes', 'TRUE', ''])
        assert.throws(() => auth({ [name]: bad }), ConfigError, `${name}=${bad}`);
    }
    assert.equal(auth({ AUTH_COOKIES: 'false' }).cookies, false);
    assert.equal(auth({ AUTH_DISABLED_FOR_DEVELOPMENT: 'false' }).disabledForDevelopment, false);
  });

  it('integer bounds: the limits are accepted, one past them and fractions refused', () => {
    const bounds: [string, number, number][] = [
      ['AUTH_KEY_ROTATION_INTERVAL_SECONDS', 0, 365 * 86400],
      ['AUTH_LOGIN_MAX_PER_IP', 1, 1_000_000],
      ['AUTH_LOGIN_FAILURES_BEFORE_BACKOFF', 1, 1000],
      ['AUTH_REGISTER_MAX_PER_IP', 1, 1_000_000],
    ];
    for (const [name, min, max] of bounds) {
      assert.doesNotThrow(() => auth({ [name]: String(min) }), `${name}=${min}`);
      assert.doesNotThrow(() => auth({ [name]: String(max) }), `${name}=${max}`);
      for (const bad of [min - 1, max + 1, min + 0.5]) {
        assert.throws(
          () => auth({ [name]: String(bad) }),
          (err: unknown) => err instanceof ConfigError && err.message.includes(name),
          `${name}=${bad}`,
        );
      }
    }
  });
});
