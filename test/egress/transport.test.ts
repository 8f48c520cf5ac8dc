/**
 * The enclave's egress transports (src/enclave/egress) against the fake exchange: direct over
 * HTTP and HTTPS (the throwaway CA trusted, and refused without it), the CONNECT tunnel through
 * the host proxy on a Unix socket with TLS ending in the client (the proxy sees `CONNECT` and
 * ciphertext only), the allow-list, no redirects, the size limit and the deadline.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startFakeExchange, type FakeExchange } from '../../devtools/fake-exchange/index.js';
import { createDirectTransport } from '../../src/enclave/egress/direct.js';
import { EgressError } from '../../src/enclave/egress/errors.js';
import { createTunnelTransport } from '../../src/enclave/egress/tunnel.js';
import { startConnectProxy, type ConnectProxy } from '../../src/host/egress/connect-proxy.js';
import type { HttpRequest } from '../../src/enclave/exchanges/types.js';
import { KEY, SECRET } from './sign.js';

function signedMyTrades(base: string): HttpRequest {
  const q = `symbol=BTCUSDT&fromId=0&limit=10&timestamp=${Date.now()}`;
  const sig = createHmac('sha256', SECRET).update(q).digest('hex');
  return {
    method: 'GET',
    url: `${base}/api/v3/myTrades?${q}&signature=${sig}`,
    headers: { 'X-MBX-APIKEY': KEY },
  };
}

async function rejects(p: Promise<unknown>, code: string, detail?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EgressError, String(err));
    assert.equal(err.code, code);
    if (detail) assert.match(err.detail ?? '', detail);
    return true;
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('direct transport', () => {
  let plain: FakeExchange;
  let tls: FakeExchange;
  let odd: Server;
  let oddUrl: string;
  before(async () => {
    plain = await startFakeExchange({ fills: 50 });
    tls = await startFakeExchange({ fills: 50, https: true });
    odd = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
        res.end();
      } else if (req.url === '/big') {
        res.writeHead(200);
        res.end(Buffer.alloc(2 << 20, 0x61));
      } else if (req.url === '/chunked-big') {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 << 10, 0x62);
        let n = 0;
        const pump = () => {
          while (n++ < 64) if (!res.write(chunk)) return void res.once('drain', pump);
          res.end();
        };
        pump();
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2000).unref();
      } else {
        res.writeHead(200, { 'x-multi': ['a', 'b'] });
        res.end('ok');
      }
    });
    oddUrl = await listen(odd);
  });
  after(async () => {
    await plain.close();
    await tls.close();
    odd.closeAllConnections();
    await new Promise((r) => odd.close(r));
  });

  it('speaks plain HTTP to the fake exchange (a signed request verifies)', async () => {
    const t = createDirectTransport();
    try {
      const res = await t.request(signedMyTrades(plain.url));
      assert.equal(res.status, 200);
      assert.equal((JSON.parse(res.body) as unknown[]).length, 10);
      assert.ok(res.headers['x-mbx-used-weight-1m']);
    } finally {
      t.close();
    }
  });

  it('speaks HTTPS with the extra CA, and refuses the certificate without it', async () => {
    const trusted = createDirectTransport({ caPem: tls.caPem! });
    const untrusted = createDirectTransport();
    try {
      const res = await trusted.request(signedMyTrades(tls.url));
      assert.equal(res.status, 200);
      await rejects(untrusted.request(signedMyTrades(tls.url)), 'EGRESS_TLS');
    } finally {
      trusted.close();
      untrusted.close();
    }
  });

  it('does not follow redirects, joins repeated headers, refuses odd URLs', async () => {
    const t = createDirectTransport();
    try {
      const r = await t.request({ method: 'GET', url: `${oddUrl}/redirect`, headers: {} });
      assert.equal(r.status, 302);
      assert.equal(r.headers.location, 'http://127.0.0.1:1/elsewhere');
      const m = await t.request({ method: 'GET', url: `${oddUrl}/`, headers: {} });
      assert.equal(m.headers['x-multi'], 'a, b');
      await rejects(
        t.request({ method: 'GET', url: 'ftp://example.org/', headers: {} }),
        'EGRESS_BAD_REQUEST',
      );
      await rejects(
        t.request({ method: 'GET', url: `http://u:p@127.0.0.1:1/`, headers: {} }),
        'EGRESS_BAD_REQUEST',
      );
      await rejects(
        t.request({ method: 'GET', url: `${oddUrl}/`, headers: { 'x-bad': 'a\r\nb' } }),
        'EGRESS_BAD_REQUEST',
      );
    } finally {
      t.close();
    }
  });

  it('enforces the response size limit (declared and streamed) and the deadline', async () => {
    const t = createDirectTransport({ maxResponseBytes: 1 << 20, timeoutMs: 300 });
    try {
      await rejects(
        t.request({ method: 'GET', url: `${oddUrl}/big`, headers: {} }),
        'EGRESS_TOO_LARGE',
      );
      await rejects(
        t.request({ method: 'GET', url: `${oddUrl}/chunked-big`, headers: {} }),
        'EGRESS_TOO_LARGE',
      );
      await rejects(
        t.request({ method: 'GET', url: `${oddUrl}/slow`, headers: {} }),
        'EGRESS_TIMEOUT',
      );
      const ac = new AbortController();
      const p = t.request({ method: 'GET', url: `${oddUrl}/slow`, headers: {} }, ac.signal);
      ac.abort();
      await rejects(p, 'EGRESS_ABORTED');
      // The transport still works afterwards.
      assert.equal((await t.request({ method: 'GET', url: `${oddUrl}/`, headers: {} })).body, 'ok');
    } finally {
      t.close();
    }
  });

  it('resends a GET once when a reused keep-alive socket turns out dead', async () => {
    // Each connection answers its first request and drops the next one unanswered.
    let connections = 0;
    const flaky = createServer((req, res) => {
      const sock = req.socket as Socket & { served?: boolean };
      if (sock.served) return void sock.destroy();
      sock.served = true;
      res.end('fresh');
    });
    flaky.on('connection', () => connections++);
    const url = await listen(flaky);
    const t = createDirectTransport();
    try {
      assert.equal((await t.request({ method: 'GET', url, headers: {} })).body, 'fresh');
      assert.equal((await t.request({ method: 'GET', url, headers: {} })).body, 'fresh');
      assert.equal(connections, 2);
      // A POST is not resent.
      await rejects(t.request({ method: 'POST', url, headers: {}, body: 'x' }), 'EGRESS_NETWORK');
    } finally {
      t.close();
      flaky.closeAllConnections();
      await new Promise((r) => flaky.close(r));
    }
  });

  it('reports an unreachable server as EGRESS_NETWORK', async () => {
    const t = createDirectTransport();
    try {
      await rejects(
        t.request({ method: 'GET', url: 'http://127.0.0.1:1/', headers: {} }),
        'EGRESS_NETWORK',
      );
    } finally {
      t.close();
    }
  });
});

describe('tunnel transport through the host CONNECT proxy', () => {
  let fx: FakeExchange;
  let proxy: ConnectProxy;
  let dir: string;
  let socketPath: string;
  const wire: Buffer[] = [];
  const logs: { obj: Record<string, unknown>; msg: string }[] = [];
  before(async () => {
    fx = await startFakeExchange({ fills: 50, https: true });
    dir = mkdtempSync(join(tmpdir(), 'cloister-egress-'));
    socketPath = join(dir, 'egress.sock');
    proxy = await startConnectProxy({
      listen: { socketPath },
      allow: ['api.binance.com:443', 'api.bybit.com:443'],
      logger: {
        info: (obj, msg) => logs.push({ obj, msg }),
        warn: (obj, msg) => logs.push({ obj, msg }),
      },
      // The production host names lead to the fake; every byte relayed either way is recorded.
      dial: () => {
        const s: Socket = connect(fx.port, '127.0.0.1');
        const write = s.write.bind(s) as (...a: unknown[]) => boolean;
        s.write = ((chunk: Buffer, ...rest: unknown[]) => {
          wire.push(Buffer.from(chunk));
          return write(chunk, ...rest);
        }) as Socket['write'];
        s.on('data', (d: Buffer) => wire.push(Buffer.from(d)));
        return s;
      },
    });
  });
  after(async () => {
    await proxy.close();
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs TLS inside the client: the proxy relays only ciphertext and logs only host:port', async () => {
    const t = createTunnelTransport({ proxy: { socketPath }, caPem: fx.caPem! });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await t.request(signedMyTrades('https://api.binance.com'));
        assert.equal(res.status, 200, res.body);
        assert.equal((JSON.parse(res.body) as unknown[]).length, 10);
      }
    } finally {
      t.close();
    }
    const bytes = Buffer.concat(wire);
    assert.ok(bytes.length > 1000);
    assert.equal(wire[0]![0], 0x16, 'first relayed byte is a TLS handshake record');
    for (const needle of [
      KEY,
      'X-MBX-APIKEY',
      'x-mbx-apikey',
      'myTrades',
      'signature=',
      'BTCUSDT',
    ]) {
      assert.equal(bytes.indexOf(needle), -1, `${needle} crossed the proxy in clear`);
    }
    // The fake exchange did see the signed requests, with the production Host.
    const seen = fx.requests.filter((r) => r.path === '/api/v3/myTrades');
    assert.equal(seen.length, 3);
    assert.equal(seen[0]!.headers.host, 'api.binance.com');
    // Keep-alive: three requests, one tunnel.
    assert.equal(proxy.stats().tunnelsOpened, 1);
    const logged = JSON.stringify(logs);
    assert.match(logged, /api\.binance\.com:443/);
    assert.doesNotMatch(logged, new RegExp(`${KEY}|signature|myTrades`));
  });

  it('checks the certificate inside the client: no CA, no request', async () => {
    const t = createTunnelTransport({ proxy: { socketPath } });
    try {
      await rejects(t.request(signedMyTrades('https://api.binance.com')), 'EGRESS_TLS');
    } finally {
      t.close();
    }
  });

  it('refuses plain http:// in tunnel mode before any byte leaves', async () => {
    const before = proxy.stats();
    const t = createTunnelTransport({ proxy: { socketPath }, caPem: fx.caPem! });
    try {
      await rejects(t.request(signedMyTrades('http://api.binance.com')), 'EGRESS_REFUSED');
    } finally {
      t.close();
    }
    assert.deepEqual(proxy.stats(), before);
  });

  it('a target outside the allow-list is refused by the proxy (403)', async () => {
    const t = createTunnelTransport({ proxy: { socketPath }, caPem: fx.caPem! });
    try {
      await rejects(t.request(signedMyTrades('https://www.okx.com')), 'EGRESS_PROXY', /^403$/);
      await rejects(
        t.request(signedMyTrades('https://api.binance.com:8443')),
        'EGRESS_PROXY',
        /^403$/,
      );
    } finally {
      t.close();
    }
    assert.ok(logs.some((l) => l.obj.target === 'www.okx.com:443' && l.obj.status === 403));
  });

  it('a certificate for another name is refused (the fake names only the API hosts)', async () => {
    const p2 = await startConnectProxy({
      listen: { port: 0 },
      allow: ['evil.example:443'],
      dial: () => connect(fx.port, '127.0.0.1'),
    });
    const t = createTunnelTransport({
      proxy: { host: '127.0.0.1', port: (p2.address as { port: number }).port },
      caPem: fx.caPem!,
    });
    try {
      await rejects(t.request(signedMyTrades('https://evil.example')), 'EGRESS_TLS');
    } finally {
      t.close();
      await p2.close();
    }
  });
});
