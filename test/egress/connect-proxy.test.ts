/**
 * The host's CONNECT proxy (src/host/egress/connect-proxy.ts): CONNECT to allow-listed targets
 * only, no plain proxying, bounded heads, idle timeouts, byte counters, and logs that name only
 * the target.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isIP } from 'node:net';
import { parseSmtpUrl } from '../../src/enclave/egress/smtp.js';
import {
  allowListFromSmtpUrl,
  allowListFromUrls,
  normalizeTarget,
  startConnectProxy,
  type ConnectProxy,
} from '../../src/host/egress/connect-proxy.js';

/** Sends `head` to the proxy and resolves with everything it answers until it closes or `until` matches. */
function talk(
  port: number,
  head: string | Buffer,
  until?: RegExp,
): Promise<{ text: string; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (until?.test(text)) resolve({ text, sock });
    });
    sock.on('close', () => resolve({ text, sock }));
    sock.on('error', () => undefined);
    sock.write(head);
  });
}

describe('host CONNECT proxy', () => {
  let echo: Server;
  let echoPort: number;
  let proxy: ConnectProxy;
  let port: number;
  const logs: string[] = [];
  before(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    echoPort = (echo.address() as AddressInfo).port;
    proxy = await startConnectProxy({
      listen: { port: 0 },
      allow: ['echo.test:443', 'API.Binance.com:443', 'down.test:443'],
      idleTimeoutMs: 300,
      logger: {
        info: (o, m) => logs.push(`${m} ${JSON.stringify(o)}`),
        warn: (o, m) => logs.push(`${m} ${JSON.stringify(o)}`),
      },
      dial: (host) =>
        host === 'down.test' ? connect(1, '127.0.0.1') : connect(echoPort, '127.0.0.1'),
    });
    port = (proxy.address as { port: number }).port;
  });
  after(async () => {
    await proxy.close();
    await new Promise((r) => echo.close(r));
  });

  it('derives the allow-list from https base URLs only', () => {
    assert.deepEqual(
      allowListFromUrls([
        'https://api.binance.com',
        'https://API.bybit.com/',
        'https://www.okx.com:8443/x',
        'http://127.0.0.1:9',
      ]),
      ['api.binance.com:443', 'api.bybit.com:443', 'www.okx.com:8443'],
    );
  });

  it('allows exactly the SMTP_URL target the enclave CONNECTs to (its port, its default)', () => {
    for (const url of [
      'smtps://u:p@Mail.Example.com',
      'smtp://mail.example.com',
      'smtp://mail.example.com:25',
      'smtps://[::1]:2465',
      'smtp://127.0.0.1:1025/x?y#z',
    ]) {
      const t = parseSmtpUrl(url);
      const connectLine = `${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`;
      assert.deepEqual(allowListFromSmtpUrl(url), [normalizeTarget(connectLine)], url);
    }
    assert.deepEqual(allowListFromSmtpUrl(undefined), []);
  });

  it('normalizes targets', () => {
    assert.equal(normalizeTarget('API.Binance.com:443'), 'api.binance.com:443');
    assert.equal(normalizeTarget('[::1]:443'), '[::1]:443');
    assert.equal(normalizeTarget('api.binance.com'), undefined);
    assert.equal(normalizeTarget('a:0'), undefined);
    assert.equal(normalizeTarget('a b:1'), undefined);
  });

  it('relays an allow-listed tunnel and counts its bytes', async () => {
    const { text, sock } = await talk(
      port,
      'CONNECT echo.test:443 HTTP/1.1\r\nHost: echo.test:443\r\n\r\nhello',
      /hello$/,
    );
    assert.match(text, /^HTTP\/1\.1 200 /);
    sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const s = proxy.stats();
    assert.ok(s.tunnelsOpened >= 1 && s.bytesUp >= 5 && s.bytesDown >= 5);
  });

  it('refuses other targets (403), plain proxying (405), garbage (400) and huge heads (431)', async () => {
    assert.match(
      (await talk(port, 'CONNECT evil.test:443 HTTP/1.1\r\n\r\n')).text,
      /^HTTP\/1\.1 403 /,
    );
    assert.match(
      (await talk(port, 'CONNECT echo.test:80 HTTP/1.1\r\n\r\n')).text,
      /^HTTP\/1\.1 403 /,
    );
    // Near misses of an allowed name: a trailing dot, a user part, another name in Host.
    assert.match(
      (await talk(port, 'CONNECT echo.test.:443 HTTP/1.1\r\n\r\n')).text,
      /^HTTP\/1\.1 403 /,
    );
    assert.match(
      (await talk(port, 'CONNECT evil.test@echo.test:443 HTTP/1.1\r\n\r\n')).text,
      /^HTTP\/1\.1 400 /,
    );
    assert.match(
      (await talk(port, 'CONNECT evil.test:443 HTTP/1.1\r\nHost: echo.test:443\r\n\r\n')).text,
      /^HTTP\/1\.1 403 /,
    );
    assert.match(
      (await talk(port, 'GET http://echo.test:443/ HTTP/1.1\r\nHost: echo.test\r\n\r\n')).text,
      /^HTTP\/1\.1 405 /,
    );
    assert.match((await talk(port, 'CONNECT echo.test HTTP/1.1\r\n\r\n')).text, /^HTTP\/1\.1 400 /);
    assert.match((await talk(port, 'hello\r\n\r\n')).text, /^HTTP\/1\.1 400 /);
    assert.match(
      (await talk(port, `CONNECT echo.test:443 HTTP/1.1\r\nX: ${'a'.repeat(9000)}`)).text,
      /^HTTP\/1\.1 431 /,
    );
  });

  it('answers 502 when the target is unreachable', async () => {
    assert.match(
      (await talk(port, 'CONNECT down.test:443 HTTP/1.1\r\n\r\n')).text,
      /^HTTP\/1\.1 502 /,
    );
  });

  it('closes an idle tunnel', async () => {
    const t0 = Date.now();
    const { sock } = await talk(port, 'CONNECT api.binance.com:443 HTTP/1.1\r\n\r\n', /200/);
    await new Promise((r) => sock.on('close', r));
    assert.ok(Date.now() - t0 >= 250);
  });

  it('logs targets and counts, never payload', () => {
    const all = logs.join('\n');
    assert.match(all, /echo\.test:443/);
    assert.match(all, /evil\.test:443/);
    assert.doesNotMatch(all, /hello/);
  });

  it('rejects a malformed allow-list entry at start', async () => {
    await assert.rejects(
      startConnectProxy({ listen: { port: 0 }, allow: ['no-port'] }),
      RangeError,
    );
  });
});
