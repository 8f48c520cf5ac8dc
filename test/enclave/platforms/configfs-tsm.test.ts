/**
 * TDX and SEV-SNP through configfs-tsm, against a fake /sys/kernel/config/tsm whose outblob is
 * a recorded TDX quote (v4, v5) or SNP report (test/vectors/data/attestation/platform/).
 * Expected fields from the samples' EXPECTED.md.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createConfigfsTsmPlatform } from '../../../src/enclave/platform/configfs-tsm.js';
import { PlatformError } from '../../../src/enclave/platform/device.js';
import { deriveSealingKey } from '../../../src/enclave/platform/released-key.js';
import { hexToBytes } from '../../../src/protocol/encoding.js';
import { FAKE_TSM_ENTRY, sample, tsmTree } from '../../fakes/tee-devices.js';

const ZERO48 = '0'.repeat(96);
const CASES = [
  {
    sample: 'tdx_quote_v4.bin',
    kind: 'tdx',
    provider: 'tdx_guest',
    measurement:
      '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
    reportData:
      '9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20',
  },
  {
    sample: 'tdx_quote_v5.bin',
    kind: 'tdx',
    provider: 'tdx_guest',
    measurement:
      '7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876',
    reportData:
      '945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a',
  },
  {
    sample: 'snp_milan_virtee_report.bin',
    kind: 'sev-snp',
    provider: 'sev_guest',
    measurement:
      '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
    reportData:
      'd447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd',
  },
] as const;

const sealingRoot = new Uint8Array(32).fill(0x5a);

for (const c of CASES) {
  describe(`configfs-tsm ${c.kind}: ${c.sample}`, () => {
    const make = (
      outblob = sample(c.sample),
      omit: string[] = [],
      provider: string = c.provider,
    ) => {
      const tree = tsmTree({ provider: provider as never, outblob, omit });
      return {
        tree,
        platform: () =>
          createConfigfsTsmPlatform({
            kind: c.kind,
            root: tree.root,
            entry: FAKE_TSM_ENTRY,
            sealingRoot,
          }),
      };
    };

    it('parses the measurement from the report taken at start', async () => {
      const p = await make().platform();
      assert.equal(p.name, c.kind);
      assert.equal(p.measurement, c.measurement);
      assert.equal(p.signer, ZERO48); // MROWNER / ID_KEY_DIGEST: unset in these samples
    });

    it('writes inblob and returns the outblob bytes', async () => {
      const { tree, platform } = make();
      const p = await platform();
      const evidence = await p.evidence(hexToBytes(c.reportData));
      assert.deepEqual(evidence, sample(c.sample));
      const inblob = readFileSync(join(tree.entryDir, 'inblob'));
      assert.equal(inblob.toString('hex'), c.reportData);
      // The pre-existing entry is reused, not removed.
      assert.ok(existsSync(tree.entryDir));
    });

    it('refuses an outblob without the report data written', async () => {
      const p = await make().platform();
      await assert.rejects(
        async () => p.evidence(new Uint8Array(64).fill(1)),
        /outblob: report does not carry the report data written/,
      );
    });

    it('refuses another provider', async () => {
      const other = c.provider === 'tdx_guest' ? 'sev_guest' : 'tdx_guest';
      await assert.rejects(
        make(undefined, [], other).platform(),
        new RegExp(`provider: "${other}", need "${c.provider}"`),
      );
    });

    it('names a missing attribute file', async () => {
      await assert.rejects(
        make(undefined, ['generation']).platform(),
        (e: Error) =>
          e instanceof PlatformError &&
          e.message.includes(`report/${FAKE_TSM_ENTRY}/generation: ENOENT`),
      );
    });

    it('refuses a truncated outblob with a clear reason', async () => {
      await assert.rejects(make(sample(c.sample).subarray(0, 100)).platform(), /outblob: .*bytes/);
    });

    it('binds sealing keys to the policy and the released key', async () => {
      const p = await make().platform();
      const m = p.sealingKey('measurement');
      assert.deepEqual(m, deriveSealingKey(sealingRoot, 'measurement', c.measurement));
      assert.notDeepEqual(m, p.sealingKey('signer'));
      const other = await createConfigfsTsmPlatform({
        kind: c.kind,
        root: make().tree.root,
        entry: FAKE_TSM_ENTRY,
        sealingRoot: new Uint8Array(32).fill(0x5b),
      });
      assert.notDeepEqual(m, other.sealingKey('measurement'));
    });
  });
}

describe('configfs-tsm generation check', () => {
  it('fails when the generation changes while the outblob is read', async () => {
    const { root, entryDir } = tsmTree({
      provider: 'tdx_guest',
      outblob: sample('tdx_quote_v4.bin'),
    });
    const p = await createConfigfsTsmPlatform({
      kind: 'tdx',
      root,
      entry: FAKE_TSM_ENTRY,
      sealingRoot,
    });
    // outblob becomes a FIFO: the platform's read blocks until this test, playing a second
    // writer, has bumped the generation and then supplied the bytes.
    const outblob = join(entryDir, 'outblob');
    rmSync(outblob);
    execFileSync('mkfifo', [outblob]);
    const pending = Promise.resolve(p.evidence(hexToBytes(CASES[0].reportData)));
    const writer = await open(outblob, 'w'); // resolves once the platform opened it to read
    writeFileSync(join(entryDir, 'generation'), '2\n');
    await writer.write(sample('tdx_quote_v4.bin'));
    await writer.close();
    await assert.rejects(pending, /generation: changed while reading \(a concurrent writer\)/);
  });

  it('creates and removes its own entry when none exists', async () => {
    const { root, entryDir } = tsmTree({
      provider: 'tdx_guest',
      outblob: sample('tdx_quote_v4.bin'),
    });
    // A plain folder does not populate itself like configfs, so the fresh entry has no provider.
    await assert.rejects(
      createConfigfsTsmPlatform({ kind: 'tdx', root, entry: 'fresh', sealingRoot }),
      /report\/fresh\/provider: ENOENT/,
    );
    assert.ok(!existsSync(join(entryDir, '..', 'fresh')), 'the created entry was not removed');
  });
});
