/**
 * The host↔enclave settings contract (protocol/enclave-env.ts): every variable the host passes
 * to the enclave it spawns is parsed by the enclave to the same value the host parsed, the
 * enclave accepts nothing the contract does not declare, and both processes refuse the same
 * cross-field combinations with the same message.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { EnclaveConfigError, parseEnclaveConfig } from '../../src/enclave/config.js';
import {
  CONFIG_VARIABLES,
  ConfigError,
  loadConfig,
  serializeEnclaveEnv,
} from '../../src/host/config.js';
import { ENCLAVE_SHARED_VARIABLES, ENCLAVE_SPAWN_ENV } from '../../src/protocol/enclave-env.js';
import { EXCHANGE_TABLE } from '../../src/protocol/exchange-table.js';
import { EXCHANGES } from '../../src/protocol/credentials.js';

const paths = { socketPath: '/run/test/enclave.sock', egressProxySocket: '/run/test/egress.sock' };

/** Every shared variable set to a valid value that is not its default. */
const everyVariable: Record<string, string> = {
  TEE_PLATFORM: 'nitro',
  TEE_DEVICE_ROOT: '/tmp/fake-tee',
  SEALING_KEY_FILE: '/run/keys/sealing.key',
  TSM_REPORT_ENTRY: 'other-entry',
  NSM_HELPER_SOCKET: '/run/other/nsm.sock',
  ENVELOPE_MAX_AGE_SECONDS: '123',
  ENVELOPE_MAX_FUTURE_SECONDS: '7',
  REPLAY_CACHE_MAX_ENTRIES: '5000',
  BINANCE_BASE_URL: 'https://testnet.binance.vision',
  BYBIT_BASE_URL: 'https://api-testnet.bybit.com',
  OKX_BASE_URL: 'https://aws.okx.com',
  COINBASE_BASE_URL: 'https://api-sandbox.coinbase.com',
  EGRESS_MODE: 'tunnel',
  AGGREGATES_MAX_JOBS: '3',
  AGGREGATES_MAX_WINDOW_DAYS: '99',
  AGGREGATES_MAX_FILLS: '12345',
  WALLET_RECOVERY_DELAY_SECONDS: '3600',
  AUTH_ARGON2_MEMORY_KIB: '20000',
  AUTH_ARGON2_TIME_COST: '3',
  AUTH_ARGON2_PARALLELISM: '2',
  AUTH_ARGON2_CONCURRENCY: '5',
  AUTH_ARGON2_QUEUE_MAX: '9',
  AUTH_ISSUER: 'https://cloister.example',
  AUTH_AUDIENCE: 'aud-x',
  AUTH_ACCESS_TOKEN_TTL_SECONDS: '600',
  AUTH_REFRESH_TOKEN_TTL_SECONDS: '7200',
  AUTH_REFRESH_GRACE_SECONDS: '2',
  AUTH_SESSION_MAX_AGE_SECONDS: '86400',
  AUTH_KEY_PREPUBLISH_SECONDS: '30',
  AUTH_SIWE_DOMAIN: 'app.cloister.example:8443',
  AUTH_SIWE_CHAIN_IDS: '1,137',
  AUTH_SIWE_NONCE_TTL_SECONDS: '120',
  AUTH_RECOVERY_DELAY_SECONDS: '3600',
  AUTH_RP_ID: 'cloister.example',
  AUTH_ORIGINS: 'https://app.cloister.example,https://cloister.example',
  SMTP_URL: 'smtps://relay:relay-pass@mail.cloister.example:465',
  MAIL_FROM: 'no-reply@cloister.example',
};

function roundTrip(env: Record<string, string>) {
  const host = loadConfig(env);
  const spawned = serializeEnclaveEnv(host, paths);
  return { host, spawned, enclave: parseEnclaveConfig(spawned) };
}

describe('host ↔ enclave settings contract', () => {
  it('the fixture sets every shared variable (so the round trip below covers them all)', () => {
    // EGRESS_CA_FILE is simulated-only: the third case below covers it.
    assert.deepEqual(
      Object.keys(everyVariable).sort(),
      ENCLAVE_SHARED_VARIABLES.filter((v) => v !== 'EGRESS_CA_FILE').sort(),
    );
    for (const name of ENCLAVE_SHARED_VARIABLES) assert.ok(CONFIG_VARIABLES.includes(name), name);
  });

  for (const [label, env] of [
    ['defaults', {}],
    ['every variable changed', everyVariable],
    [
      'the simulated platform with an extra CA and plain HTTP',
      { EGRESS_CA_FILE: '/etc/test/ca.pem', BINANCE_BASE_URL: 'http://127.0.0.1:9999' },
    ],
  ] as const) {
    it(`the enclave parses what the host passes to the same values (${label})`, () => {
      const { host, spawned, enclave } = roundTrip(env);
      for (const name of ENCLAVE_SHARED_VARIABLES) {
        assert.deepEqual(enclave[name], host.enclaveEnv[name], name);
      }
      assert.equal(enclave.ENCLAVE_MAX_TTL_SECONDS, host.maxTtlSeconds);
      assert.equal(enclave.ENCLAVE_SOCKET_PATH, paths.socketPath);
      assert.equal(enclave.SIMULATED_PLATFORM_DIR, resolve(host.dataDir, 'simulated-platform'));
      assert.equal(
        enclave.EGRESS_PROXY_SOCKET,
        host.enclaveEnv.EGRESS_MODE === 'tunnel' ? paths.egressProxySocket : undefined,
      );
      // Nothing is passed that the enclave does not declare (host-only settings stay home).
      const declared = new Set([...ENCLAVE_SHARED_VARIABLES, ...Object.keys(ENCLAVE_SPAWN_ENV)]);
      for (const name of Object.keys(spawned)) assert.ok(declared.has(name), name);
      // The host's own view of the exchanges is the same table.
      for (const e of EXCHANGES) {
        assert.equal(host.exchanges.baseUrls[e], enclave[EXCHANGE_TABLE[e].envVar]);
      }
    });
  }

  it('the enclave reads UV_THREADPOOL_SIZE in its one config, not a second parse of its own', () => {
    // The host never passes it (Gramine's manifest sets it); a bad value stops the start.
    assert.equal(parseEnclaveConfig({}).UV_THREADPOOL_SIZE, 4);
    assert.equal(parseEnclaveConfig({ UV_THREADPOOL_SIZE: '8' }).UV_THREADPOOL_SIZE, 8);
    for (const bad of ['', '0', '1025', 'many']) {
      assert.throws(
        () => parseEnclaveConfig({ UV_THREADPOOL_SIZE: bad }),
        (err: unknown) =>
          err instanceof EnclaveConfigError &&
          err.issues.some((i) => i.startsWith('UV_THREADPOOL_SIZE:')),
        bad,
      );
    }
    assert.equal(serializeEnclaveEnv(loadConfig({}), paths).UV_THREADPOOL_SIZE, undefined);
  });

  it('the enclave gets absolute paths for files named relative to the host', () => {
    const { enclave } = roundTrip({ EGRESS_CA_FILE: 'certs/ca.pem', DATA_DIR: 'rel-data' });
    assert.equal(enclave.EGRESS_CA_FILE, resolve('certs/ca.pem'));
    assert.equal(enclave.SIMULATED_PLATFORM_DIR, resolve('rel-data', 'simulated-platform'));
  });

  for (const [label, env, issue] of [
    [
      'an extra CA on hardware',
      { TEE_PLATFORM: 'sgx-gramine', EGRESS_CA_FILE: '/ca.pem' },
      'EGRESS_CA_FILE: only allowed when TEE_PLATFORM is simulated',
    ],
    [
      'plain HTTP on hardware',
      { TEE_PLATFORM: 'sgx-gramine', OKX_BASE_URL: 'http://okx.example' },
      'OKX_BASE_URL: must be https:// unless TEE_PLATFORM is simulated',
    ],
    [
      'plain HTTP through the tunnel',
      { EGRESS_MODE: 'tunnel', BYBIT_BASE_URL: 'http://bybit.example' },
      'BYBIT_BASE_URL: must be https:// when EGRESS_MODE is tunnel (the host must not see the traffic)',
    ],
    [
      'a blank integer (it read as 0: no clock-skew tolerance)',
      { ENVELOPE_MAX_FUTURE_SECONDS: '' },
      'ENVELOPE_MAX_FUTURE_SECONDS: must be a decimal integer',
    ],
    [
      'a released-key platform without its key',
      { TEE_PLATFORM: 'nitro' },
      'SEALING_KEY_FILE: required when TEE_PLATFORM is nitro',
    ],
  ] as const) {
    it(`both refuse ${label}, with the same message`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.issues.includes(issue),
      );
      assert.throws(
        () => parseEnclaveConfig({ ...env, EGRESS_PROXY_SOCKET: '/run/e.sock' }),
        (err: unknown) => err instanceof EnclaveConfigError && err.issues.includes(issue),
      );
    });
  }
});
