/**
 * Transparency log attack review (SECURITY.md, "Transparency log: attack review"): the public
 * log routes under hostile parameters, on the real service (PGlite, in-process enclave). Huge,
 * negative, fractional, non-numeric and repeated indexes and sizes, sizes past the tree, a
 * consistency proof from 0 or backwards, pages too long: each is a 400 with a stable code,
 * never a 500, never a hang; the edge cases a verifier relies on (equal sizes, a power-of-two
 * first size, the last leaf) answer proofs that verify.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { base64ToBytes } from '../../src/protocol/encoding.js';
import { verifyConsistency, verifyInclusion } from '../../src/protocol/log/merkle.js';
import { submit, uniqueCredentials, verifiedAttestation } from '../helpers/client.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { expiredEntry as expired } from '../helpers/log-entries.js';

describe('log routes under hostile parameters', () => {
  let ts: TestService;
  let size: number;
  const get = (url: string) => ts.service.app.inject({ method: 'GET', url });
  const b64s = (xs: string[]) => xs.map(base64ToBytes);

  before(async () => {
    ts = await startTestService('pglite');
    await ts.service.log.commit({
      work: async () => ({ result: null, entries: Array.from({ length: 11 }, expired) }),
    });
    size = ts.service.log.latest()!.size;
    assert.equal(size, 11);
  });
  after(async () => ts?.stop());

  it('every out-of-range or malformed index, size or page is a 400 with a stable code', async () => {
    const MAX = Number.MAX_SAFE_INTEGER;
    const urls = [
      '/api/log/proof/inclusion?index=-1',
      '/api/log/proof/inclusion?index=1.5',
      '/api/log/proof/inclusion?index=abc',
      '/api/log/proof/inclusion?index=1e400',
      `/api/log/proof/inclusion?index=${MAX + 1}`,
      `/api/log/proof/inclusion?index=${MAX}`,
      '/api/log/proof/inclusion?index=1&index=2',
      '/api/log/proof/inclusion?index=0&extra=1',
      `/api/log/proof/inclusion?index=0&size=${size + 1}`,
      `/api/log/proof/inclusion?index=${size}&size=${size}`,
      `/api/log/proof/inclusion?index=${size}`,
      '/api/log/proof/inclusion?index=0&size=0',
      `/api/log/proof/inclusion?index=0&size=${MAX}`,
      '/api/log/proof/consistency?from=0',
      '/api/log/proof/consistency?from=0&to=0',
      '/api/log/proof/consistency?from=-1',
      '/api/log/proof/consistency?from=3&to=2',
      `/api/log/proof/consistency?from=1&to=${size + 1}`,
      `/api/log/proof/consistency?from=${MAX}`,
      `/api/log/proof/consistency?from=${MAX}&to=${MAX}`,
      '/api/log/proof/consistency?from=NaN',
      '/api/log/entries?start=0&end=1001',
      '/api/log/entries?start=5&end=4',
      `/api/log/entries?start=0&end=${size + 1}`,
      `/api/log/entries?start=${MAX}&end=${MAX}`,
      '/api/log/entries?start=-5&end=1',
      '/api/log/entries?start=0',
      '/api/log/checkpoint?witnessed=yes',
    ];
    for (const url of urls) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      const code = (res.json() as { error?: { code?: unknown } }).error?.code;
      assert.ok(code === 'LOG_RANGE_INVALID' || code === 'VALIDATION_FAILED', `${url}: ${code}`);
    }
    // A session id that is not one, on the owner-only route: refused, not a 500.
    const bad = await get('/api/logs/not-a-session');
    assert.ok([400, 404].includes(bad.statusCode), bad.body);
  });

  it('the edge cases a verifier relies on answer proofs that verify', async () => {
    const tree = ts.service.log.tree();
    // Equal sizes: the empty proof.
    const same = await get(`/api/log/proof/consistency?from=${size}&to=${size}`);
    assert.equal(same.statusCode, 200);
    assert.deepEqual(same.json().proof, []);
    // A power-of-two first size (its root is left out of the proof), and others.
    for (const from of [1, 2, 4, 8, 3, 10]) {
      const res = await get(`/api/log/proof/consistency?from=${from}&to=${size}`);
      assert.equal(res.statusCode, 200);
      const proof = b64s(res.json().proof as string[]);
      assert.ok(verifyConsistency(from, size, tree.root(from), tree.root(size), proof), `${from}`);
    }
    // The first and the last leaf; a proof in a smaller tree than the current one.
    for (const [index, at] of [
      [0, size],
      [size - 1, size],
      [3, 4],
    ] as const) {
      const res = await get(`/api/log/proof/inclusion?index=${index}&size=${at}`);
      assert.equal(res.statusCode, 200);
      const body = res.json() as { leaf_hash: string; proof: string[] };
      assert.ok(
        verifyInclusion(index, at, base64ToBytes(body.leaf_hash), b64s(body.proof), tree.root(at)),
      );
    }
  });

  it("a cosigned checkpoint past this instance's tree (leaves it cannot read yet): 503, not a 500", async () => {
    const { verification } = await verifiedAttestation(ts);
    const res = await submit(ts.service.app, verification.enclavePubkey!, uniqueCredentials('w'));
    assert.equal(res.statusCode, 200, res.body);
    const sid = res.json().session_id as string;
    // A checkpoint with a witness cosignature, stored (as by another member) beyond the leaves
    // this instance can read: its sync fails, its tree stays where it is.
    const beyond = ts.service.log.tree().size + 5;
    await ts.service.db.query(
      'INSERT INTO log_checkpoints (tree_size, root_hash, note) VALUES ($1, $2, $3)',
      [beyond, Buffer.alloc(32).toString('base64'), 'not yet readable\n'],
    );
    await ts.service.db.query(
      'INSERT INTO log_cosignatures (tree_size, witness, line) VALUES ($1, $2, $3)',
      [beyond, 'witness.test/w', '— witness.test/w AAAA'],
    );
    const answer = await get(`/api/logs/${sid}?witnessed=true`);
    assert.equal(answer.statusCode, 503, answer.body);
    assert.equal(answer.json().error.code, 'LOG_UNAVAILABLE');
  });
});
