/**
 * The enclave's SMTP client against a man in the middle of the plain part of a STARTTLS
 * conversation (the host relays the tunnel, so it is one): replies the attacker sends in the
 * same segment as the server's "220" to STARTTLS must not be read as replies from inside TLS.
 * The fake server here is the attacker: it appends "250 injected" to its 220, then speaks
 * correct SMTP over TLS. A client that kept the injected line answers every later command with
 * the reply to the one before, and reports a mail sent that the server never took.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import { createThrowawayPki } from '../../devtools/fake-exchange/tls.js';
import { sendMail } from '../../src/enclave/egress/smtp.js';

/** Line-based SMTP over `io`: EHLO, MAIL, RCPT, DATA (until "."), QUIT. */
function speak(io: Socket | TLSSocket, log: string[]): void {
  let buf = '';
  let inData = false;
  io.setEncoding('utf8');
  io.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          log.push('DATA done');
          io.write('250 queued\r\n');
        }
        continue;
      }
      log.push(line.split(' ')[0]!);
      if (/^EHLO/i.test(line)) io.write('250 fake\r\n');
      else if (/^DATA/i.test(line)) {
        inData = true;
        io.write('354 go on\r\n');
      } else if (/^QUIT/i.test(line)) io.end('221 bye\r\n');
      else io.write('250 ok\r\n');
    }
  });
}

describe('enclave SMTP client and STARTTLS', () => {
  it('refuses replies injected ahead of the TLS handshake', async () => {
    const pki = await createThrowawayPki(['localhost']);
    const tlsLog: string[] = [];
    const server = createServer((sock) => {
      sock.write('220 fake ESMTP\r\n');
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString('utf8');
        if (/^EHLO[^\r]*\r\n$/i.test(buf)) {
          buf = '';
          sock.write('250-fake\r\n250 STARTTLS\r\n');
        } else if (/^STARTTLS\r\n$/i.test(buf)) {
          sock.off('data', onData);
          // The injection: a reply the client should never take as coming from inside TLS.
          sock.write('220 go ahead\r\n250 injected\r\n');
          const tls = new TLSSocket(sock, {
            isServer: true,
            secureContext: createSecureContext({ cert: pki.certPem, key: pki.keyPem }),
          });
          tls.on('error', () => sock.destroy());
          speak(tls, tlsLog);
        }
      };
      sock.on('data', onData);
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const target = { secure: false, host: '127.0.0.1', port };
      const mail = { from: 'a@b.c', to: 'd@e.f', subject: 's', text: 't' };
      await assert.rejects(
        sendMail(target, mail, { allowPlainLocal: false, caPem: pki.caPem, timeoutMs: 10_000 }),
        { code: 'EGRESS_NETWORK' },
      );
      // Nothing was said inside TLS: the client stopped at the injected bytes (before the fix
      // it sent EHLO, MAIL, RCPT and DATA, each answered with the reply to the one before).
      assert.deepEqual(tlsLog, []);
    } finally {
      server.close();
    }
  });
});
