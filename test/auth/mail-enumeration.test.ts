/**
 * Registration and password reset must not tell, by how long they take, whether an address has
 * an account: a known address gets a mail and a stranger none, so an answer that waited for the
 * SMTP conversation would be slower exactly for known addresses. The SMTP server here accepts
 * and never answers (a slow mail server), and the test checks the order of events, not times:
 * the 202 for a known address arrives before the host has given up on the mail (which it
 * logs as "one-time code not sent" when its call to the enclave times out).
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

describe('reset and registration answers do not wait for the mail', () => {
  let ts: TestService;
  const open = new Set<Socket>();
  let connected = 0;
  const tarpit = createServer((sock) => {
    connected++;
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.on('error', () => {});
  });

  before(async () => {
    await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
    const port = (tarpit.address() as { port: number }).port;
    ts = await startTestService('pglite', {
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      AUTH_LOGIN_MAX_PER_IP: '100000',
    });
  });
  after(async () => {
    for (const s of open) s.destroy();
    tarpit.close();
    await ts?.stop();
  });

  const post = (url: string, payload: Record<string, unknown>) =>
    ts.service.app.inject({ method: 'POST', url, payload });

  it('registration and reset for a known address answer before their mail is through', async () => {
    const creds = { email: 'known@example.com', password: 'a long enough password' };
    const reg = await post('/auth/register', creds);
    assert.equal(reg.statusCode, 202, reg.body);
    // Before the fix the answer came only once the host gave up on the silent server.
    const gaveUp = () => ts.logs.filter((l) => l.includes('one-time code not sent')).length;
    assert.equal(gaveUp(), 0, 'registration waited for the mail');
    const r = await post('/auth/password/reset/start', { email: creds.email });
    assert.equal(r.statusCode, 202);
    assert.equal(gaveUp(), 0, 'the reset waited for the mail');
    for (let i = 0; connected === 0 && i < 600; i++) await new Promise((ok) => setTimeout(ok, 50));
    assert.ok(connected >= 1, 'positive control: the mail was attempted');
  });
});
