/**
 * `cloister cluster init` keeps a genesis answer only if the enclave itself made that manifest
 * from the operators' request (docs/protocol/cluster.md, "Genesis evidence"). The host relays
 * the request: before this check it could run genesis with its own age recipients (so it would
 * decrypt every share and hold the root), re-encrypt each share file to the real operator and
 * hand back a manifest naming the real operators, and the CLI wrote it all as the ceremony's
 * output. It could equally add a measurement, a simulated vendor key or debug to the policy.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as age from 'age-encryption';
import {
  checkGenesis,
  clusterApprove,
  clusterCheckShare,
  clusterInit,
  clusterReshare,
  clusterSigningKey,
} from '../../src/cli/cluster.js';
import { readSimulatedVendorKey } from '../../src/enclave/platform/simulated.js';
import type { MethodName } from '../../src/protocol/rpc/methods.js';
import {
  SHARE_FORMAT,
  manifestDigest,
  shareDigest,
  type Manifest,
  type Proposal,
  type ShareFile,
} from '../../src/protocol/cluster/cluster.js';
import { bytesToBase64 } from '../../src/protocol/encoding.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import { genesisRequest, readyForGenesis, reshareProposal } from '../helpers/cluster-calls.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { ok } from '../mutation-killers/rpc.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- results are checked by the dispatcher's schemas
const call = (e: TestEnclave, method: MethodName, params: unknown): Promise<any> =>
  ok(e, method, params);

async function operators(prefix: string) {
  return Promise.all(
    [1, 2, 3].map(async (i) => {
      const identity = await age.generateX25519Identity();
      return {
        name: `op${i}`,
        recipient: await age.identityToRecipient(identity),
        identity,
        prefix,
      };
    }),
  );
}

async function readyEnclave(dirs: string[]): Promise<TestEnclave> {
  const e = testEnclave();
  dirs.push(e.dir);
  return readyForGenesis(e);
}

const servers: Server[] = [];

/** The real `age` binary opens a share file as an operator would (`age -d`). */
const noAge =
  spawnSync('age', ['--version']).status !== 0 && !process.env.CI
    ? 'the `age` binary is not installed (apt-get install age)'
    : false;

/** A service stand-in: `answer` turns the parsed genesis body into the response body. */
async function serve<B>(answer: (body: B) => Promise<unknown>): Promise<string> {
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      answer(JSON.parse(data) as B).then(
        (body) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'X', message: String(err) } }));
        },
      );
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return `http://127.0.0.1:${addr.port}`;
}

type GenesisBody = { operators: Manifest['operators']; threshold: number; nonce: string };

describe('cloister cluster init: the genesis answer is attested and matches the request', () => {
  const dirs: string[] = [];
  let real: { name: string; recipient: string }[];
  let host: Awaited<ReturnType<typeof operators>>;
  before(async () => {
    real = (await operators('real')).map(({ name, recipient }) => ({ name, recipient }));
    host = await operators('host');
  });
  after(() => {
    for (const s of servers) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const genesisOf = (e: TestEnclave, ops: Manifest['operators'], nonce: string) =>
    call(e, 'cluster.genesis', genesisRequest(e.state, ops, { nonce }));

  function init(url: string, e: TestEnclave, measurements = [e.state.platform.measurement]) {
    const out = mkdtempSync(join(tmpdir(), 'cloister-init-'));
    dirs.push(out);
    const opsFile = join(out, 'ops.json');
    writeFileSync(opsFile, JSON.stringify(real));
    return {
      out,
      run: () =>
        clusterInit({
          url,
          operatorsFile: opsFile,
          threshold: 2,
          outDir: out,
          measurements,
          trustedSimulatedVendorKeys: [readSimulatedVendorKey(e.dir)],
        }),
    };
  }

  it('an honest genesis passes and writes the ceremony', async () => {
    const e = await readyEnclave(dirs);
    // The simulated evidence carries the enclave's clock; the CLI checks freshness against now.
    e.clock.now = Math.floor(Date.now() / 1000);
    const url = await serve<GenesisBody>(async (b) => {
      const g = await genesisOf(e, b.operators, b.nonce);
      return { manifest: g.manifest, attestation: g.attestation, shares: g.shares };
    });
    const { out, run } = init(url, e);
    const r = await run();
    assert.deepEqual(
      r.manifest.operators.map((o) => o.recipient),
      real.map((o) => o.recipient),
    );
    assert.ok(existsSync(join(out, 'op1.age')));
    assert.equal(
      JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).cluster_id,
      r.manifest.cluster_id,
    );
  });

  it('refuses a manifest relabelled after a genesis run with the host’s own recipients', async () => {
    const e = await readyEnclave(dirs);
    e.clock.now = Math.floor(Date.now() / 1000);
    const url = await serve<GenesisBody>(async (b) => {
      // The host keeps the operators' names and swaps in recipients it holds the keys of ...
      const g = await genesisOf(
        e,
        host.map(({ name, recipient }) => ({ name, recipient })),
        b.nonce,
      );
      // ... then hands back the manifest naming the real recipients (the share digests do not
      // depend on the recipient, so they still match the share files it re-encrypts).
      const manifest = { ...g.manifest, operators: b.operators };
      const attestation = await call(e, 'attestation.get', { nonce: b.nonce });
      return {
        manifest,
        attestation: {
          quote: attestation.quote,
          image_hash: attestation.image_hash,
          platform: attestation.platform,
          report_data: attestation.report_data,
          nonce: b.nonce,
        },
        shares: g.shares,
      };
    });
    const { out, run } = init(url, e);
    await assert.rejects(run(), /genesis answer refused, nothing written/);
    assert.equal(existsSync(join(out, 'manifest.json')), false);
  });

  it('needs the build the operators expect: another build’s genesis is refused', async () => {
    // The host runs genesis on a build of its own (genuine evidence, its own measurement): a
    // member that would forward the root to the real build later. Without a pinned measurement
    // the manifest would name only that build and look consistent.
    const e = testEnclave({ codePath: 'tsconfig.json' });
    dirs.push(e.dir);
    await readyForGenesis(e);
    e.clock.now = Math.floor(Date.now() / 1000);
    const url = await serve<GenesisBody>(async (b) => {
      const g = await genesisOf(e, b.operators, b.nonce);
      return { manifest: g.manifest, attestation: g.attestation, shares: g.shares };
    });
    const expected = testEnclave();
    dirs.push(expected.dir);
    const { out, run } = init(url, e, [expected.state.platform.measurement]);
    await assert.rejects(run(), /genesis answer refused/);
    assert.equal(existsSync(join(out, 'manifest.json')), false);
    await assert.rejects(init(url, e, []).run(), /--expect-measurement/);
  });

  it('names every field the host could have changed', async () => {
    const e = await readyEnclave(dirs);
    const nonce = 'genesis-check-nonce-1';
    const request = { operators: real, threshold: 2, measurements: [e.state.platform.measurement] };
    const g = await genesisOf(e, real, nonce);
    const res = { manifest: g.manifest, attestation: g.attestation, shares: g.shares };
    const trust = { nonce, trustedSimulatedVendorKeys: [readSimulatedVendorKey(e.dir)] };
    const now = { ...trust, now: e.clock.now };
    assert.deepEqual((await checkGenesis(res, request, now)).reasons, []);
    // Another nonce, no trusted vendor key, no evidence at all.
    assert.ok(
      (await checkGenesis(res, request, { ...now, nonce: 'another-nonce-0001' })).reasons.length >
        0,
    );
    assert.ok(
      (await checkGenesis(res, request, { ...now, trustedSimulatedVendorKeys: [] })).reasons
        .length > 0,
    );
    assert.deepEqual(
      (await checkGenesis({ ...res, attestation: undefined }, request, now)).reasons,
      ['response: not a genesis answer'],
    );
    // The enclave really made these, from a request the host rewrote.
    const variants: [Record<string, unknown>, string][] = [
      [{ threshold: 3 }, 'manifest: threshold differs'],
      [
        { measurements: [e.state.platform.measurement, 'ab'.repeat(48)] },
        'manifest: measurements differ from the ones asked for',
      ],
      [
        {
          platform: {
            name: 'simulated',
            allow_debug: true,
            simulated_vendor_keys: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
          },
        },
        'manifest: names simulated machines nobody asked for',
      ],
    ];
    for (const [change, reason] of variants) {
      const f = await readyEnclave(dirs);
      const h = await call(f, 'cluster.genesis', {
        ...genesisRequest(f.state, real, { nonce }),
        ...change,
      });
      const checked = await checkGenesis(
        { manifest: h.manifest, attestation: h.attestation, shares: h.shares },
        request,
        { nonce, trustedSimulatedVendorKeys: [readSimulatedVendorKey(f.dir)], now: f.clock.now },
      );
      assert.ok(checked.reasons.includes(reason), `${reason}: ${checked.reasons.join('; ')}`);
    }
  });
});

describe('cloister cluster reshare: the answer must be the approved proposal, attested', () => {
  const dirs: string[] = [];
  after(() => {
    for (const s of servers) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A genesis whose operators have signing keys, a proposal and op1's and op2's approvals. */
  async function signedGenesis(prefix: string) {
    const e = await readyEnclave(dirs);
    // The simulated evidence carries the enclave's clock; the CLI checks freshness against now.
    e.clock.now = Math.floor(Date.now() / 1000);
    const work = mkdtempSync(join(tmpdir(), 'cloister-reshare-'));
    dirs.push(work);
    const ops = await Promise.all(
      (await operators(prefix)).map(async ({ name, recipient, identity }) => ({
        name,
        recipient,
        identity,
        signing_key: clusterSigningKey(join(work, `${name}.key`)).signing_key,
      })),
    );
    const named = ops.map(({ name, recipient, signing_key }) => ({ name, recipient, signing_key }));
    const g = await call(e, 'cluster.genesis', genesisRequest(e.state, named));
    const manifestPath = join(work, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(g.manifest));
    const proposal = reshareProposal(g.manifest.cluster_id, named, [e.state.platform.measurement]);
    const proposalPath = join(work, 'proposal.json');
    writeFileSync(proposalPath, JSON.stringify(proposal));
    const approvalPaths = ['op1', 'op2'].map((name) => {
      const path = join(work, `${name}.approval.json`);
      const a = clusterApprove({
        proposalPath,
        signingKeyPath: join(work, `${name}.key`),
        operator: name,
      });
      writeFileSync(path, JSON.stringify(a));
      return path;
    });
    const reshare = (url: string, outDir: string) =>
      clusterReshare({
        url,
        proposalPath,
        approvalPaths,
        manifestPath,
        outDir,
        trustedSimulatedVendorKeys: [readSimulatedVendorKey(e.dir)],
      });
    return { e, work, g, ops, proposal, proposalPath, manifestPath, approvalPaths, reshare };
  }

  type ReshareBody = { proposal: Proposal; approvals: unknown[]; nonce?: string };
  /** The host's honest relay: the enclave's answer as the route gives it (it picks a nonce if none). */
  const relay = async (e: TestEnclave, b: ReshareBody) => {
    const r = await call(e, 'cluster.reshare', { ...b, nonce: b.nonce ?? 'host-picked-nonce-01' });
    return {
      manifest: r.manifest,
      manifest_digest: r.manifest_digest,
      attestation: r.attestation,
      shares: r.shares,
    };
  };

  it('a reshare never overwrites an earlier ceremony’s files, and sends nothing if it would', async () => {
    const { e, work, g, reshare } = await signedGenesis('w');
    // The genesis ceremony's directory (the docs' examples use `--out shares/` for both): its
    // epoch-1 files are the backup until the new split is known good.
    const outDir = join(work, 'shares');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'op1.age'), g.shares[0].file);
    writeFileSync(join(outDir, 'manifest.json'), JSON.stringify(g.manifest));
    let sent = 0;
    const url = await serve<ReshareBody>(async (b) => {
      sent += 1;
      return relay(e, b);
    });
    await assert.rejects(reshare(url, outDir), /exists/);
    assert.equal(sent, 0);
    assert.equal(readFileSync(join(outDir, 'op1.age'), 'utf8'), g.shares[0].file);
    assert.equal(e.state.cluster!.manifest.epoch, 1);
    const r = await reshare(url, join(work, 'e2'));
    assert.equal(r.manifest.epoch, 2);
  });

  it('refuses share files the host made, under a manifest equal to the proposal', async () => {
    const { e, work, reshare } = await signedGenesis('f');
    const url = await serve<ReshareBody>(async (b) => {
      const real = await relay(e, b);
      // The host drops the real shares (nobody else can read them) and answers with share
      // files of its own: valid share documents, age-encrypted to each operator, and a
      // manifest equal to the proposal whose digests commit to them. Every later check
      // (`age -d`, provide-share's digest check) passes; the restore fails.
      const files: ShareFile[] = b.proposal.operators.map((op, i) => ({
        format: SHARE_FORMAT,
        cluster_id: b.proposal.cluster_id,
        epoch: real.manifest.epoch,
        index: i + 1,
        threshold: b.proposal.threshold,
        operator: op.name,
        share: bytesToBase64(new Uint8Array(33).fill(i + 1)),
      }));
      const manifest = { ...real.manifest, share_digests: files.map(shareDigest) };
      const shares = await Promise.all(
        files.map(async (f, i) => {
          const enc = new age.Encrypter();
          enc.addRecipient(b.proposal.operators[i]!.recipient);
          return {
            operator: f.operator,
            index: f.index,
            file: age.armor.encode(await enc.encrypt(jcsBytes(f))),
          };
        }),
      );
      // Evidence the host can get: the real split's, or an ordinary attestation of the nonce.
      return {
        manifest,
        manifest_digest: manifestDigest(manifest),
        attestation: real.attestation,
        shares,
      };
    });
    const outDir = join(work, 'forged');
    await assert.rejects(reshare(url, outDir), /reshare answer refused, nothing written/);
    assert.equal(existsSync(join(outDir, 'manifest.json')), false);
  });

  it(
    'share files the host swapped under the attested manifest: `age -d` opens them, check-share refuses them',
    { skip: noAge },
    async () => {
      const { e, work, ops, reshare } = await signedGenesis('s');
      const url = await serve<ReshareBody>(async (b) => {
        const real = await relay(e, b);
        // The real manifest and evidence, but each operator's file holds a share document of the
        // host's making (it cannot read the real ones, nor make one matching their digests).
        const shares = await Promise.all(
          real.shares.map(async (x: { operator: string; index: number }, i: number) => {
            const enc = new age.Encrypter();
            enc.addRecipient(b.proposal.operators[i]!.recipient);
            const doc: ShareFile = {
              format: SHARE_FORMAT,
              cluster_id: real.manifest.cluster_id,
              epoch: real.manifest.epoch,
              index: x.index,
              threshold: real.manifest.threshold,
              operator: x.operator,
              share: bytesToBase64(new Uint8Array(33).fill(i + 1)),
            };
            return { ...x, file: age.armor.encode(await enc.encrypt(jcsBytes(doc))) };
          }),
        );
        return { ...real, shares };
      });
      const outDir = join(work, 'swapped');
      // The CLI cannot open the operators' files: it writes them with the attested manifest.
      const r = await reshare(url, outDir);
      const idFile = join(work, 'op1.identity');
      writeFileSync(idFile, `${ops[0]!.identity}\n`, { mode: 0o600 });
      const opened = JSON.parse(
        execFileSync('age', ['-d', '-i', idFile, join(outDir, 'op1.age')], { encoding: 'utf8' }),
      );
      assert.equal(opened.format, SHARE_FORMAT);
      assert.equal(opened.epoch, r.manifest.epoch);
      await assert.rejects(
        clusterCheckShare({
          sharePath: join(outDir, 'op1.age'),
          identityPath: idFile,
          manifestPath: join(outDir, 'manifest.json'),
        }),
        /share 1 \(op1\) does not match the manifest/,
      );
    },
  );

  it('check-share: an honest reshare’s files match its manifest', async () => {
    const { e, work, ops, reshare } = await signedGenesis('h');
    const url = await serve<ReshareBody>(async (b) => relay(e, b));
    const outDir = join(work, 'honest');
    await reshare(url, outDir);
    for (const [i, op] of ops.entries()) {
      const idFile = join(work, `${op.name}.identity`);
      writeFileSync(idFile, `${op.identity}\n`, { mode: 0o600 });
      const c = await clusterCheckShare({
        sharePath: join(outDir, `${op.name}.age`),
        identityPath: idFile,
        manifestPath: join(outDir, 'manifest.json'),
      });
      assert.deepEqual([c.index, c.operator, c.epoch], [i + 1, op.name, 2]);
    }
  });

  it('refuses a manifest with a measurement nobody approved; keeps the honest one', async () => {
    const { e, work, proposal, proposalPath, manifestPath, approvalPaths, reshare } =
      await signedGenesis('r');
    let tamper = true;
    const url = await serve<ReshareBody>(async (b) => {
      const r = await relay(e, b);
      // The enclave resplit as approved; the host adds its own build's measurement to the
      // manifest the operators will keep and check quotes against.
      const manifest = tamper
        ? { ...r.manifest, measurements: [...r.manifest.measurements, 'ee'.repeat(48)] }
        : r.manifest;
      return { ...r, manifest };
    });
    const outDir = join(work, 'out');
    await assert.rejects(reshare(url, outDir), /manifest: measurements differ/);
    assert.equal(existsSync(join(outDir, 'manifest.json')), false);
    tamper = false;
    // The first call moved the enclave to epoch 2: approve the next proposal.
    const next = { ...proposal, from_epoch: 2 };
    writeFileSync(proposalPath, JSON.stringify(next));
    writeFileSync(manifestPath, JSON.stringify(e.state.cluster!.manifest));
    for (const [i, name] of ['op1', 'op2'].entries())
      writeFileSync(
        approvalPaths[i]!,
        JSON.stringify(
          clusterApprove({
            proposalPath,
            signingKeyPath: join(work, `${name}.key`),
            operator: name,
          }),
        ),
      );
    const r = await reshare(url, outDir);
    assert.equal(r.manifest.epoch, 3);
    assert.ok(existsSync(join(outDir, 'manifest.json')));
  });

  it('checks the proposal against the current manifest before sending anything', async () => {
    const { e, work, manifestPath, proposalPath, approvalPaths, reshare } =
      await signedGenesis('c');
    let sent = 0;
    const url = await serve<ReshareBody>(async (b) => {
      sent += 1;
      return relay(e, b);
    });
    writeFileSync(manifestPath, JSON.stringify({ ...e.state.cluster!.manifest, epoch: 2 }));
    await assert.rejects(reshare(url, join(work, 'x')), /another cluster or epoch/);
    assert.equal(sent, 0);
    // The answer's evidence could not pass without a trusted simulated machine: the enclave is
    // not asked to resplit (it would supersede the operators' files for nothing).
    writeFileSync(manifestPath, JSON.stringify(e.state.cluster!.manifest));
    await assert.rejects(
      clusterReshare({
        url,
        proposalPath,
        approvalPaths,
        manifestPath,
        outDir: join(work, 'y'),
        trustedSimulatedVendorKeys: [],
      }),
      /--trust-simulated-key/,
    );
    assert.equal(sent, 0);
    assert.equal(e.state.cluster!.manifest.epoch, 1);
  });
});
