/**
 * Host–enclave boundary, second attack review (SECURITY.md): the enclave's runtime. A process
 * environment that Node reads by itself changes what the enclave trusts: with
 * NODE_TLS_REJECT_UNAUTHORIZED=0 the SMTP client (the one TLS connection that left the choice
 * to Node's default) accepted any certificate, so whoever relays the tunnel (the host) read every
 * mailed sign-in, reset and recovery code. And on a hardware platform the enclave started
 * whatever flags and variables it was given (an inspector on its keys, a preload, a key log);
 * the measured manifest or image fixes them on Gramine and Nitro, but nothing refused them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { after, describe, it } from 'node:test';
import { createThrowawayPki } from '../../devtools/fake-exchange/tls.js';
import { EnclaveConfigError, parseEnclaveConfig } from '../../src/enclave/config.js';
import { sendMail } from '../../src/enclave/egress/smtp.js';

describe('enclave runtime environment', () => {
  const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  const dirs: string[] = [];
  /** A temporary folder, removed after the suite. */
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-runtime-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved;
  });

  it('SMTP over TLS checks the certificate whatever NODE_TLS_REJECT_UNAUTHORIZED says', async () => {
    // A server whose certificate no trusted root signed: the man in the middle of the tunnel.
    const pki = await createThrowawayPki(['localhost']);
    const said: string[] = [];
    const server = createServer({ cert: pki.certPem, key: pki.keyPem }, (sock) => {
      sock.setEncoding('utf8');
      sock.write('220 mitm ESMTP\r\n');
      sock.on('data', (d: string) => {
        for (const line of d.split('\r\n').filter(Boolean)) {
          said.push(line.split(' ')[0]!);
          sock.write(/^DATA/i.test(line) ? '354 go on\r\n' : '250 ok\r\n');
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const mail = { from: 'a@b.c', to: 'd@e.f', subject: 's', text: 'code 123456' };
      await assert.rejects(
        sendMail({ secure: true, host: 'localhost', port }, mail, {
          allowPlainLocal: false,
          timeoutMs: 10_000,
        }),
        { code: 'EGRESS_TLS' },
      );
      assert.deepEqual(said, [], 'the client spoke to a server it could not authenticate');
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      server.close();
    }
  });

  const hardware = () => {
    const dir = tempDir();
    const key = join(dir, 'sealing.key');
    writeFileSync(key, Buffer.alloc(32, 7), { mode: 0o600 });
    return {
      TEE_PLATFORM: 'tdx',
      SEALING_KEY_FILE: key,
      ENCLAVE_SOCKET_PATH: join(dir, 'e.sock'),
    };
  };

  for (const [name, value] of [
    ['NODE_OPTIONS', '--inspect=0.0.0.0:9229'],
    ['NODE_TLS_REJECT_UNAUTHORIZED', '0'],
    ['NODE_EXTRA_CA_CERTS', '/tmp/host-ca.pem'],
    ['SSLKEYLOGFILE', '/tmp/keys.log'],
    ['OPENSSL_CONF', '/tmp/openssl.cnf'],
  ] as const) {
    it(`a hardware enclave refuses to start with ${name} set, naming it but not its value`, () => {
      assert.throws(
        () => parseEnclaveConfig({ ...hardware(), [name]: value }),
        (err: unknown) =>
          err instanceof EnclaveConfigError &&
          err.message.includes(name) &&
          !err.message.includes(value),
      );
    });
  }

  it('a hardware enclave refuses Node flags other than heap sizes', () => {
    const env = hardware();
    for (const flag of [
      '--inspect=0.0.0.0:9229',
      '--require',
      '--import=/tmp/x.mjs',
      '--tls-keylog=/tmp/k',
    ])
      assert.throws(
        () => parseEnclaveConfig(env, ['--max-old-space-size=1024', flag]),
        (err: unknown) =>
          err instanceof EnclaveConfigError &&
          err.message.includes(flag.split('=')[0]!) &&
          !err.message.includes('/tmp/'),
        flag,
      );
    // What the deployments run with (docs/platforms/, deploy/gramine).
    assert.equal(
      parseEnclaveConfig(env, ['--max-old-space-size=1024', '--max-semi-space-size=2'])
        .TEE_PLATFORM,
      'tdx',
    );
  });

  it('the simulated platform, which isolates nothing, takes the developer’s runtime as it is', () => {
    const dir = tempDir();
    const c = parseEnclaveConfig(
      {
        ENCLAVE_SOCKET_PATH: join(dir, 'e.sock'),
        SIMULATED_PLATFORM_DIR: dir,
        NODE_OPTIONS: '--inspect',
      },
      ['--inspect', '--import', 'tsx'],
    );
    assert.equal(c.TEE_PLATFORM, 'simulated');
  });
});
