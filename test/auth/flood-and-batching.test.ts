/**
 * Abuse resistance and batching: a flood of concurrent logins against a small Argon2id queue
 * gets 503 AUTH_BUSY with Retry-After (never a 500, never a crash) and the service answers
 * afterwards; the RPC client sends the calls made in one tick in one frame (batched ECALLs),
 * and the enclave answers Argon2id calls in frames of their own (detached) so they do not
 * hold up the rest.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FrameDecoder, encodeFrame } from '../../src/protocol/rpc/frame.js';
import { EnclaveRpcClient } from '../../src/host/enclave-client/rpc-client.js';
import { startTestService, type TestService } from '../helpers/service.js';

describe('login flood', () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_ARGON2_CONCURRENCY: '1',
      AUTH_ARGON2_QUEUE_MAX: '2',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_LOGIN_FAILURES_BEFORE_BACKOFF: '1000',
    });
  });
  after(async () => {
    await ts?.stop();
  });

  it('sheds with 503 + Retry-After and keeps answering', async () => {
    const password = 'flood-password-123456';
    const reg = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { email: 'flood@example.com', password },
    });
    assert.equal(reg.statusCode, 201);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ts.service.app.inject({
          method: 'POST',
          url: '/auth/login',
          payload: { email: `flood${i % 2 ? '' : i}@example.com`, password },
        }),
      ),
    );
    const codes = results.map((r) => r.statusCode);
    assert.ok(codes.includes(503), `no 503 in ${codes.join(',')}`);
    assert.ok(!codes.some((c) => c >= 500 && c !== 503), codes.join(','));
    for (const r of results.filter((x) => x.statusCode === 503)) {
      assert.equal(r.json().error.code, 'AUTH_BUSY');
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    assert.ok(codes.some((c) => c === 200 || c === 401));
    const health = await ts.service.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(health.statusCode, 200);
    const again = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'flood@example.com', password },
    });
    assert.equal(again.statusCode, 200);
  });
});

describe('batched enclave calls', () => {
  it('calls made in one tick travel in one frame', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cloister-batch-')), 's.sock');
    const frames: number[] = [];
    const server = createServer((conn) => {
      const decoder = new FrameDecoder();
      conn.on('data', (chunk) => {
        for (const f of decoder.push(chunk) as { calls: { id: number }[] }[]) {
          frames.push(f.calls.length);
          conn.write(
            encodeFrame({
              results: f.calls.map((c) => ({
                id: c.id,
                ok: true,
                result: { argon2_hashes: 0, argon2_verifies: 0, running: 0, waiting: 0 },
              })),
            }),
          );
        }
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    const client = await EnclaveRpcClient.connect(path, 5000);
    try {
      await Promise.all(Array.from({ length: 50 }, () => client.call('auth.stats', {})));
      assert.deepEqual(frames, [50]);
    } finally {
      client.close();
      server.close();
    }
  });
});
