/**
 * Client attack review, input handling: the host answers whatever it likes. A huge answer (sent
 * in chunks, so no length tells in advance), escape sequences in an error message, a deeply
 * nested answer and a `__proto__` key must each end in a clear refusal (exit 1, one `cloister:`
 * line), never a crash, a hang, a rewritten terminal or an accepted answer. The SDK's own calls
 * are bounded the same way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClientError, listWallets } from '../../src/client/index.js';
import { MAX_ANSWER_BYTES } from '../../src/client/service-call.js';
import { runCli } from './run.js';

const ESCAPES = '\u001b[2K\r\u001b[32mattestation valid\u009b1A';

/** A body of `n` bytes of JSON (an array of zeros), in 64 KiB chunks. */
function writeHuge(res: import('node:http').ServerResponse, n: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.from('0,'.repeat(32 * 1024));
  res.write('[');
  let sent = 1;
  const more = () => {
    while (sent < n) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end('0]');
  };
  res.on('error', () => undefined);
  more();
}

describe('client attack review: hostile answers', { concurrency: false }, () => {
  let server: Server;
  let url = '';
  let answer: (res: import('node:http').ServerResponse) => void = () => undefined;
  const cli = (args: string[]) =>
    runCli([...args, '--url', url], {
      ...process.env,
      CLOISTER_ACCESS_TOKEN: 'not-a-real-token',
      XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'cloister-hostile-')),
    });
  const trust = ['--expect-measurement', 'ab'.repeat(48), '--trust-simulated-key', 'AA=='];

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      answer(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  it('refuses an answer larger than the cap before it is all read', async () => {
    answer = (res) => writeHuge(res, MAX_ANSWER_BYTES + 1024 * 1024);
    const r = await cli(['attest', ...trust]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^cloister: the service's answer is larger than 16777216 bytes\n$/);
  });

  it('shows no escape sequence or carriage return the host put in an error', async () => {
    answer = (res) =>
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: `X${ESCAPES}`, message: ESCAPES } }));
    const r = await cli(['attest', ...trust]);
    assert.equal(r.code, 1);
    assert.ok(
      !/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stderr),
      JSON.stringify(r.stderr),
    );
    assert.match(r.stderr, /^cloister: 500 X\ufffd\[2K\ufffd/);
  });

  it('refuses a deeply nested answer and a __proto__ key with a clear line', async () => {
    const depth = 200_000;
    answer = (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(`{"sessions":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    const deep = await cli(['sessions']);
    assert.equal(deep.code, 1, deep.stderr);
    assert.match(deep.stderr, /^cloister: [^\n]+\n$/);

    answer = (res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"__proto__":{"valid":true},"quote":"AA==","platform":"simulated"}');
    const proto = await cli(['attest', ...trust]);
    assert.equal(proto.code, 1);
    assert.match(proto.stderr, /response: does not match the attestation response schema/);
  });

  it('the SDK refuses a huge answer with ClientError HTTP_ERROR', async () => {
    answer = (res) => writeHuge(res, MAX_ANSWER_BYTES + 1024 * 1024);
    await assert.rejects(
      listWallets({
        baseUrl: url,
        accessToken: 'x',
        enclaveKey: { publicKey: 'AA==', keyId: 'x' },
      }),
      (e: unknown) => e instanceof ClientError && e.code === 'HTTP_ERROR',
    );
  });

  it('second review: plain http to another machine is warned of (tokens in the clear)', async () => {
    // --interval 0 is refused before any request: nothing leaves this machine.
    const run = (u: string) => runCli(['log', 'monitor', '--url', u, '--interval', '0']);
    for (const u of ['http://service.example', 'http://10.0.0.5:3000']) {
      const r = await run(u);
      assert.match(r.stderr, /WARNING: http:\/\/[^ ]+ is plain http to another machine/, u);
    }
    for (const u of [
      'http://127.0.0.1:3000',
      'http://localhost:3000',
      'http://[::1]:3000',
      'https://service.example',
    ]) {
      const r = await run(u);
      assert.doesNotMatch(r.stderr, /WARNING/, u);
    }
  });

  it('second review: a redirect to another origin does not carry the bearer token (held)', async () => {
    const seen: (string | undefined)[] = [];
    const other = createServer((req, res) => {
      req.resume();
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"wallets":[]}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      // Another port is another origin: fetch drops Authorization on the way.
      const to = `http://127.0.0.1:${(other.address() as { port: number }).port}/wallets`;
      answer = (res) => res.writeHead(307, { location: to }).end();
      await listWallets({
        baseUrl: url,
        accessToken: 'the-bearer-token',
        enclaveKey: { publicKey: 'AA==', keyId: 'x' },
      });
      assert.deepEqual(seen, [undefined]);
    } finally {
      other.close();
    }
  });
});
