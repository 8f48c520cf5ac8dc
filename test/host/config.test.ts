/** Configuration: defaults are the safe embedded ones; a bad value names its variable, never its value. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/host/config.js';

describe('host configuration', () => {
  it('defaults to the embedded, local-only setup', () => {
    const c = loadConfig({});
    assert.equal(c.port, 3000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.enclave.platform, 'simulated');
    assert.equal(c.maxTtlSeconds, 604800);
    assert.deepEqual(c.rateLimit, { max: 100, windowMs: 900000, redisUrl: undefined });
    assert.deepEqual(c.allowedOrigins, []);
    // The envelope rules the enclave enforces, as the host hands them to it.
    assert.equal(c.enclave.envelopeMaxAgeSeconds, 300);
    assert.equal(c.enclave.envelopeMaxFutureSeconds, 30);
    assert.equal(c.enclave.replayCacheMaxEntries, 2_000_000);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.rateLimit));
  });

  it('parses the seed variables', () => {
    const c = loadConfig({
      ENCLAVE_PORT: '8080',
      MAX_TTL_SECONDS: '3600',
      RATE_LIMIT_MAX: '5',
      RATE_LIMIT_WINDOW: '60000',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443',
      DATABASE_URL: 'postgres://u@127.0.0.1/db',
    });
    assert.equal(c.port, 8080);
    assert.deepEqual(c.allowedOrigins, ['https://a.example', 'https://b.example:8443']);
    assert.equal(c.databaseUrl, 'postgres://u@127.0.0.1/db');
  });

  it('PORT sets the port; ENCLAVE_PORT is its alias and PORT wins over it', () => {
    assert.equal(loadConfig({ PORT: '8081' }).port, 8081);
    assert.equal(loadConfig({ ENCLAVE_PORT: '8082' }).port, 8082);
    assert.equal(loadConfig({ PORT: '8083', ENCLAVE_PORT: '8084' }).port, 8083);
  });

  it('AUTH_ISSUER follows the listening address unless set', () => {
    const issuer = (env: Record<string, string>) => loadConfig(env).auth.issuer;
    assert.equal(issuer({}), 'http://127.0.0.1:3000');
    assert.equal(issuer({ PORT: '4123' }), 'http://127.0.0.1:4123');
    assert.equal(issuer({ ENCLAVE_PORT: '4124', HOST: 'localhost' }), 'http://localhost:4124');
    assert.equal(issuer({ PORT: '4125', HOST: '0.0.0.0' }), 'http://127.0.0.1:4125');
    assert.equal(issuer({ PORT: '4126', HOST: '::1' }), 'http://[::1]:4126');
    const set = loadConfig({ PORT: '4127', AUTH_ISSUER: 'https://cloister.example' });
    assert.equal(set.auth.issuer, 'https://cloister.example');
    // The enclave signs with the issuer the host derived: both agree.
    assert.equal(loadConfig({ PORT: '4128' }).enclaveEnv.AUTH_ISSUER, 'http://127.0.0.1:4128');
  });

  for (const [name, value] of [
    ['ENCLAVE_PORT', '70000'],
    ['PORT', '0'],
    ['MAX_TTL_SECONDS', '10'],
    ['RATE_LIMIT_MAX', 'lots'],
    ['ALLOWED_ORIGINS', 'javascript:alert(1)'],
    ['DATABASE_URL', 'not a url with password hunter2'],
    ['TEE_PLATFORM', 'sgx-without-hardware'],
    ['ENVELOPE_MAX_FUTURE_SECONDS', '3600'],
    ['REPLAY_CACHE_MAX_ENTRIES', 'many'],
  ] as const) {
    it(`refuses a bad ${name}, naming it and not echoing the value`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.issues.some((i) => i.startsWith(`${name}:`)) &&
          !err.message.includes(value),
      );
    });
  }

  it('refuses AUTH_DISABLED_FOR_DEVELOPMENT=true with CLOISTER_ENV=production', () => {
    const prod = { CLOISTER_ENV: 'production', ALLOW_SIMULATED_IN_PRODUCTION: 'true' };
    assert.equal(loadConfig(prod).auth.disabledForDevelopment, false);
    assert.throws(
      () => loadConfig({ ...prod, AUTH_DISABLED_FOR_DEVELOPMENT: 'true' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.issues.some((i) => i.startsWith('AUTH_DISABLED_FOR_DEVELOPMENT:')),
    );
    assert.equal(
      loadConfig({ AUTH_DISABLED_FOR_DEVELOPMENT: 'true' }).auth.disabledForDevelopment,
      true,
    );
  });

  it('on TDX and SEV-SNP the host connects to an enclave of its own user: ENCLAVE_SOCKET is required', () => {
    for (const platform of ['tdx', 'sev-snp']) {
      const env = { TEE_PLATFORM: platform, SEALING_KEY_FILE: '/run/keys/sealing.key' };
      assert.throws(
        () => loadConfig(env),
        (err: unknown) =>
          err instanceof ConfigError && err.issues.some((i) => i.startsWith('ENCLAVE_SOCKET:')),
      );
      const socket = '/run/cloister-enclave/enclave.sock';
      assert.equal(
        loadConfig({ TEE_PLATFORM: platform, ENCLAVE_SOCKET: socket }).enclave.socket,
        socket,
      );
    }
  });

  it('migrates at start on PGlite only, unless MIGRATE_ON_START says otherwise', () => {
    const pgUrl = 'postgres://u@127.0.0.1/db';
    assert.equal(loadConfig({}).migrateOnStart, true);
    assert.equal(loadConfig({ DATABASE_URL: pgUrl }).migrateOnStart, false);
    assert.equal(
      loadConfig({ DATABASE_URL: pgUrl, MIGRATE_ON_START: 'true' }).migrateOnStart,
      true,
    );
    assert.equal(loadConfig({ MIGRATE_ON_START: 'false' }).migrateOnStart, false);
  });

  it('reads the retention periods (0 keeps rows)', () => {
    assert.deepEqual(loadConfig({}).retention, {
      authSessionDays: 30,
      opsLogDays: 90,
      jobDays: 30,
    });
    assert.equal(loadConfig({ OPS_LOG_RETENTION_DAYS: '0' }).retention.opsLogDays, 0);
    assert.throws(() => loadConfig({ JOB_RETENTION_DAYS: '-1' }), ConfigError);
  });

  // A blank line in an env file, or compose's `${UNSET}`: Number('') is 0, and 0 turned these
  // off (scheduled key rotation, signing-key rollover, retention) or to zero (skew, grace).
  for (const name of [
    'KEY_ROTATION_INTERVAL_SECONDS',
    'AUTH_KEY_ROTATION_INTERVAL_SECONDS',
    'OPS_LOG_RETENTION_DAYS',
    'ENVELOPE_MAX_FUTURE_SECONDS',
    'AUTH_REFRESH_GRACE_SECONDS',
  ]) {
    it(`refuses a blank ${name} instead of reading it as 0`, () => {
      for (const blank of ['', ' ']) {
        assert.throws(
          () => loadConfig({ [name]: blank }),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.issues.some((i) => i === `${name}: must be a decimal integer`),
        );
      }
    });
  }

  it('reads integers in decimal only: hex, exponents and fractions are refused', () => {
    assert.equal(loadConfig({ PORT: ' 8080 ' }).port, 8080);
    for (const value of ['0x1F90', '8e3', '8080.5', '8080abc']) {
      assert.throws(() => loadConfig({ PORT: value }), ConfigError, value);
    }
  });

  it('a configuration error is one line', () => {
    assert.throws(
      () => loadConfig({ ENCLAVE_PORT: 'x', RATE_LIMIT_MAX: 'y' }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes('\n'),
    );
  });
});
