/**
 * The measurement is reproducible: two builds of the same checkout give the same bytes, the
 * recorded measurement is SHA-384 of those bytes, and the enclave reports exactly it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startTestService } from '../helpers/service.js';

function buildInto(
  dir: string,
  genesisPolicy?: string,
): { bytes: Buffer; measurement: string; policy: string } {
  const env = { ...process.env };
  delete env.CLOISTER_GENESIS_POLICY;
  if (genesisPolicy) env.CLOISTER_GENESIS_POLICY = genesisPolicy;
  execFileSync(process.execPath, ['scripts/build-enclave.mjs', '--outdir', dir], {
    stdio: 'pipe',
    env,
  });
  const recorded = JSON.parse(readFileSync(join(dir, 'measurement.json'), 'utf8'));
  return {
    bytes: readFileSync(join(dir, 'enclave.mjs')),
    measurement: recorded.measurement,
    policy: recorded.genesis_policy,
  };
}

describe('enclave measurement', () => {
  const dirs = [
    mkdtempSync(join(tmpdir(), 'cloister-build-a-')),
    mkdtempSync(join(tmpdir(), 'cloister-build-b-')),
  ];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('is the SHA-384 of a bundle that two builds reproduce byte for byte', () => {
    const [a, b] = dirs.map((d) => buildInto(d)) as [
      ReturnType<typeof buildInto>,
      ReturnType<typeof buildInto>,
    ];
    assert.ok(a.bytes.equals(b.bytes), 'two builds differ');
    assert.equal(a.measurement, createHash('sha384').update(a.bytes).digest('hex'));
    assert.match(a.measurement, /^[0-9a-f]{96}$/);
    // The build embeds no absolute path of the machine it ran on.
    assert.ok(!a.bytes.includes(Buffer.from(process.cwd())), 'bundle embeds the checkout path');
  });

  it('changes with the genesis policy compiled in (CLOISTER_GENESIS_POLICY at build time)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cloister-build-fresh-'));
    dirs.push(dir);
    const fresh = buildInto(dir, 'fresh-only');
    const convert = buildInto(dirs[0]!);
    assert.equal(convert.policy, 'convert');
    assert.equal(fresh.policy, 'fresh-only');
    assert.notEqual(fresh.measurement, convert.measurement);
    // The literal is in the bundle, and no runtime read of the variable is.
    assert.ok(fresh.bytes.includes(Buffer.from('"fresh-only"')), 'policy not compiled in');
    assert.ok(!fresh.bytes.includes(Buffer.from('process.env.CLOISTER_GENESIS_POLICY')));
    // An unknown value does not build.
    assert.throws(() => buildInto(dir, 'sometimes'));
  });

  it('is what the running enclave reports as image_hash', async () => {
    const [a] = dirs.map(
      (d) => JSON.parse(readFileSync(join(d, 'measurement.json'), 'utf8')).measurement as string,
    );
    const ts = await startTestService('pglite');
    try {
      const quote = (
        await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' })
      ).json();
      assert.equal(quote.image_hash, a);
      assert.equal(ts.measurement, a);
    } finally {
      await ts.stop();
    }
  });
});
