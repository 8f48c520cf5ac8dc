/**
 * TRUST_PROXY and the rate-limit key (src/host/http/trust-proxy.ts): `true` is refused at
 * config load with the reason; a hop count and a list of proxy addresses/CIDRs are accepted;
 * anything else is refused. The key of an IPv6 client is its /64, of an IPv4-mapped IPv6
 * client its IPv4 address; a request whose connection is gone has none, and is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/host/config.js';
import type { FastifyRequest } from 'fastify';
import { HostError } from '../../src/host/errors.js';
import { clientKey, rateLimitKey, requestClientKey } from '../../src/host/http/trust-proxy.js';

describe('TRUST_PROXY', () => {
  it('refuses true, saying why', () => {
    assert.throws(
      () => loadConfig({ TRUST_PROXY: 'true' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /TRUST_PROXY: .*every X-Forwarded-For hop.*own rate-limit key/.test(e.message),
    );
  });

  it('accepts false, a hop count and proxy addresses or CIDRs', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,fd00::/8' }).trustProxy, [
      '10.0.0.0/8',
      '192.168.1.7',
      'fd00::/8',
    ]);
  });

  it('refuses anything else', () => {
    for (const v of ['yes', '0', '11', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/8,evil', '*']) {
      assert.throws(
        () => loadConfig({ TRUST_PROXY: v }),
        (e: unknown) => e instanceof ConfigError && /TRUST_PROXY/.test(e.message),
        v,
      );
    }
  });
});

describe('rate-limit key of a client address', () => {
  it('keeps IPv4 and maps IPv4-mapped IPv6 to IPv4', () => {
    assert.equal(clientKey('203.0.113.7'), '203.0.113.7');
    assert.equal(clientKey('::ffff:203.0.113.7'), '203.0.113.7');
  });

  it('keys IPv6 by its /64, however the address is written', () => {
    const a = clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    assert.equal(a, '2001:db8:1:2::');
    assert.equal(clientKey('2001:0db8:0001:0002::1'), a);
    assert.equal(clientKey('2001:db8:1:2::'), a);
    assert.notEqual(clientKey('2001:db8:1:3::1'), a);
  });
});

describe('rate-limit key of a translated IPv4 client (NAT64/SIIT, IPv4-translated)', () => {
  it('is its IPv4 address, not the translator prefix shared by every IPv4 client', () => {
    assert.equal(clientKey('64:ff9b::1.2.3.4'), '1.2.3.4');
    assert.equal(clientKey('64:FF9B::102:304'), '1.2.3.4');
    assert.equal(clientKey('64:ff9b::c000:2ff'), '192.0.2.255');
    assert.notEqual(clientKey('64:ff9b::198.51.100.7'), clientKey('64:ff9b::198.51.100.8'));
    assert.equal(clientKey('::ffff:0:203.0.113.9'), '203.0.113.9');
    // Neither shares a bucket with IPv6 loopback or an IPv4-mapped address's other spelling.
    assert.notEqual(clientKey('::ffff:0:203.0.113.9'), clientKey('::1'));
    assert.equal(clientKey('::ffff:0:203.0.113.9'), clientKey('::ffff:203.0.113.9'));
  });

  it('leaves other addresses of 64:ff9b::/64 outside the /96 to their /64', () => {
    assert.equal(clientKey('64:ff9b::1:0:1'), clientKey('64:ff9b::2:0:1'));
  });
});

describe('rate-limit key of a request', () => {
  const request = (ip: string | undefined) => ({ ip }) as unknown as FastifyRequest;

  it("is its address's key", () => {
    assert.equal(rateLimitKey(request('2001:db8:1:2::7')), clientKey('2001:db8:1:2::1'));
    assert.equal(requestClientKey(request('::ffff:192.0.2.1')), '192.0.2.1');
  });

  it('refuses a request whose connection is gone (no address) as CONNECTION_CLOSED', () => {
    assert.equal(requestClientKey(request(undefined)), null);
    assert.throws(
      () => rateLimitKey(request(undefined)),
      (e: unknown) => e instanceof HostError && e.code === 'CONNECTION_CLOSED',
    );
  });
});
