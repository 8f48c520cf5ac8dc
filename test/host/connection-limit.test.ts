/**
 * Availability attack review (SECURITY.md, "Availability: attack review"): connections that
 * never finish a request (slowloris: headers a byte at a time, within requestTimeout) are not
 * requests, so no rate limit counts them, and each holds a file descriptor. Past
 * HTTP_MAX_CONNECTIONS new connections are closed at once; once one closes, the service answers
 * again. A real listening server; counts and bytes, no times.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseResponses, rawConnection } from '../helpers/raw-http.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe('HTTP_MAX_CONNECTIONS', () => {
  let ts: TestService;
  let port: number;
  before(async () => {
    ts = await startTestService('pglite', { HTTP_MAX_CONNECTIONS: '2' });
    await ts.service.app.listen({ port: 0, host: '127.0.0.1' });
    port = (ts.service.app.server.address() as AddressInfo).port;
  });
  after(async () => ts?.stop());

  const connections = () =>
    new Promise<number>((resolve, reject) =>
      ts.service.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
  async function until(n: number): Promise<void> {
    while ((await connections()) !== n) await new Promise((r) => setImmediate(r));
  }

  it('closes connections past the limit, and serves again once one is gone', async () => {
    // Two slow clients: a request line and half a header, never finished.
    const slow: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      slow.push(s);
    }
    await until(2);
    const third = rawConnection(port);
    third.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal((await third.closed).length, 0, 'the third connection is closed unanswered');
    assert.equal(await connections(), 2);

    slow[0]!.destroy();
    await until(1);
    const fourth = rawConnection(port);
    fourth.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [res] = parseResponses(await fourth.closed);
    assert.equal(res?.status, 200);
    slow[1]!.destroy();
  });
});
