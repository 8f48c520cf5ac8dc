/**
 * On a hardware platform the enclave refuses the settings through which an untrusted host could
 * serve it invented fills under a genuine signature: an extra CA, or a plain-HTTP exchange URL.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnclaveConfig } from '../../src/enclave/config.js';

const hw = { TEE_PLATFORM: 'sgx-gramine' };

describe('enclave egress settings', () => {
  it('the simulated platform accepts an extra CA and plain HTTP (tests, the demo)', () => {
    const c = parseEnclaveConfig({
      EGRESS_CA_FILE: '/tmp/ca.pem',
      BINANCE_BASE_URL: 'http://127.0.0.1:9999',
    });
    assert.equal(c.EGRESS_CA_FILE, '/tmp/ca.pem');
  });

  it('a hardware platform starts with the defaults (https, system roots)', () => {
    assert.equal(parseEnclaveConfig(hw).TEE_PLATFORM, 'sgx-gramine');
  });

  it('a hardware platform refuses EGRESS_CA_FILE, naming it', () => {
    assert.throws(
      () => parseEnclaveConfig({ ...hw, EGRESS_CA_FILE: '/tmp/ca.pem' }),
      /EGRESS_CA_FILE: only allowed when TEE_PLATFORM is simulated/,
    );
  });

  for (const name of ['BINANCE_BASE_URL', 'BYBIT_BASE_URL', 'OKX_BASE_URL', 'COINBASE_BASE_URL']) {
    it(`a hardware platform refuses a plain-HTTP ${name}`, () => {
      assert.throws(
        () => parseEnclaveConfig({ ...hw, [name]: 'http://api.example.com' }),
        new RegExp(`${name}: must be https://`),
      );
    });
  }
});
