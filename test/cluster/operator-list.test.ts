/**
 * No two operators of a split may be alike (`operatorListSchema`): a name twice (or in another
 * case) wrote both shares to one `<name>.age`, after the enclave had already made the genesis;
 * a recipient twice hands one person two shares; a signing key twice lets one person approve a
 * reshare as two operators. Each lowers the threshold the operators chose without a word.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ClusterUsageError, clusterInit } from '../../src/cli/cluster.js';
import { GenesisRequestSchema } from '../../src/host/http/routes/cluster.js';
import {
  PROPOSAL_FORMAT,
  ProposalSchema,
  operatorListSchema,
} from '../../src/protocol/cluster/cluster.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import { call, genesisRequest, operators, readyForGenesis } from '../helpers/cluster-calls.js';
import { testEnclave } from '../helpers/enclave-state.js';

const key = () => bytesToBase64(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));

async function three() {
  const ops = (await operators(3)).map((o) => o.op);
  return ops.map((op) => ({ ...op, signing_key: key() }));
}

describe('operators of a split are distinct', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('distinct operators pass; a repeated name (any case), recipient or signing key does not', async () => {
    const ops = await three();
    assert.equal(operatorListSchema(2).safeParse(ops).success, true);
    const cases = {
      name: [ops[0]!, { ...ops[1]!, name: ops[0]!.name.toUpperCase() }, ops[2]!],
      recipient: [ops[0]!, { ...ops[1]!, recipient: ops[0]!.recipient }, ops[2]!],
      signing_key: [ops[0]!, ops[1]!, { ...ops[2]!, signing_key: ops[0]!.signing_key }],
    };
    for (const [field, list] of Object.entries(cases)) {
      const r = operatorListSchema(2).safeParse(list);
      assert.equal(r.success, false, field);
      assert.match(r.error!.issues[0]!.message, new RegExp(`same ${field}`));
      // Every place a split's operators enter: the host's route, the reshare proposal.
      assert.equal(
        GenesisRequestSchema.safeParse({ operators: list, threshold: 2 }).success,
        false,
      );
      const proposal = {
        format: PROPOSAL_FORMAT,
        cluster_id: 'ab'.repeat(32),
        from_epoch: 1,
        threshold: 2,
        operators: list,
        measurements: ['cd'.repeat(48)],
        platform: { name: 'simulated', allow_debug: true },
      };
      assert.equal(ProposalSchema.safeParse(proposal).success, false, field);
      assert.equal(ProposalSchema.safeParse({ ...proposal, operators: ops }).success, true);
    }
    // Operators without signing keys yet are not alike for that.
    const unsigned = ops.map(({ name, recipient }) => ({ name, recipient }));
    assert.equal(operatorListSchema(2).safeParse(unsigned).success, true);
  });

  it('the enclave makes no genesis for a repeated operator', async () => {
    const e = await readyForGenesis(testEnclave());
    dirs.push(e.dir);
    const ops = (await operators(3)).map((o) => o.op);
    const twice = [ops[0]!, ops[1]!, { ...ops[2]!, name: ops[1]!.name }];
    await assert.rejects(call(e.state, 'cluster.genesis', genesisRequest(e.state, twice)), {
      code: 'PARAMS_INVALID',
    });
    assert.equal(e.state.cluster, null);
  });

  it('cloister cluster init refuses the operators file and sends nothing', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    assert.ok(addr && typeof addr !== 'string');
    const out = mkdtempSync(join(tmpdir(), 'cloister-ops-'));
    dirs.push(out);
    const ops = (await operators(3)).map((o) => o.op);
    const opsFile = join(out, 'ops.json');
    writeFileSync(
      opsFile,
      JSON.stringify([ops[0], ops[1], { ...ops[2], recipient: ops[0]!.recipient }]),
    );
    try {
      await assert.rejects(
        clusterInit({
          url: `http://127.0.0.1:${addr.port}`,
          operatorsFile: opsFile,
          threshold: 2,
          outDir: out,
          trustedSimulatedVendorKeys: [],
        }),
        (err: unknown) =>
          err instanceof ClusterUsageError &&
          /entry 3: two operators have the same recipient/.test(err.message),
      );
    } finally {
      server.close();
    }
    assert.equal(requests, 0);
    assert.deepEqual(readdirSync(out), ['ops.json']);
  });

  it('client second review (held): a name that is a path (its share file outside --out) is refused', async () => {
    const ops = await three();
    for (const name of ['../x', 'a/b', '..\\x', ''])
      assert.equal(
        operatorListSchema(2).safeParse([{ ...ops[0]!, name }, ops[1]!, ops[2]!]).success,
        false,
        name,
      );
  });
});
