/**
 * Attack review (issue 12): `TRUST_PROXY=true` is refused because it believes every
 * X-Forwarded-For hop. A CIDR covering every address (`0.0.0.0/0`, `::/0`) is that setting
 * written another way; it passed the config check and then made Fastify throw while the app was
 * built (a stack trace instead of the one-line config error). It is refused at config load,
 * like `true`, and nothing the config accepts makes Fastify throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { ConfigError, loadConfig } from '../../src/host/config.js';
import { fastifyTrustProxy } from '../../src/host/http/trust-proxy.js';

describe('TRUST_PROXY: a CIDR of every address', () => {
  it('is refused at config load, like true', () => {
    for (const v of ['0.0.0.0/0', '::/0', '10.0.0.0/8,0.0.0.0/0', '::ffff:0.0.0.0/0']) {
      assert.throws(
        () => loadConfig({ TRUST_PROXY: v }),
        (e: unknown) => e instanceof ConfigError && /TRUST_PROXY: .*every/.test(e.message),
        v,
      );
    }
  });

  it('every accepted list builds a Fastify instance', async () => {
    for (const v of ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '0.0.0.0/1,128.0.0.0/32']) {
      const trust = loadConfig({ TRUST_PROXY: v }).trustProxy;
      const app = Fastify({ trustProxy: fastifyTrustProxy(trust) });
      await app.ready();
      await app.close();
    }
  });
});
