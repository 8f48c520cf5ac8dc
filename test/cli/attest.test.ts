/**
 * `cloister attest verify` on recorded evidence (test/vectors/data/attestation/platform/, fields
 * and verification times from the samples' EXPECTED.md) and against a service URL backed by a
 * real in-process enclave on the simulated platform; `cloister attest measure` against the
 * build script it reuses.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cliEvidencePolicy, loadPolicy } from '../../src/cli/attest.js';
import { attestation } from '../../src/enclave/methods/attestation.js';
import { generate } from '../../src/enclave/methods/keyring.js';
import { readSimulatedVendorKey } from '../../src/enclave/platform/simulated.js';
import { SAMPLES } from '../fakes/tee-devices.js';
import { testEnclave } from '../helpers/enclave-state.js';
import { runCli } from './run.js';

const exec = promisify(execFile);
const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
const TDX_MRTD =
  '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7';
const NITRO_PCR0 =
  'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b';

const cli = (...args: string[]) => runCli(args);

const dir = mkdtempSync(join(tmpdir(), 'cloister-cli-attest-'));
function policyFile(name: string, policy: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(policy));
  return path;
}

describe('cloister attest verify: recorded evidence files', () => {
  const sgxPolicy = {
    acceptedMeasurements: [MRENCLAVE],
    minTcbStatus: 'ConfigurationAndSWHardeningNeeded',
    now: '2025-07-01T00:00:00Z',
    pinnedRoots: { intelSgxRootCa: join(SAMPLES, 'intel_sgx_root_ca.der') },
  };

  it('accepts the SGX v3 quote with its collateral and prints the normalized result', async () => {
    const r = await cli(
      'attest',
      'verify',
      join(SAMPLES, 'sgx_quote_v3.bin'),
      '--kind',
      'sgx-dcap',
      '--collateral',
      join(SAMPLES, 'sgx_quote_v3.collateral.json'),
      '--policy',
      policyFile('sgx.json', sgxPolicy),
    );
    assert.equal(r.code, 0, r.stderr);
    const { result } = JSON.parse(r.stdout);
    assert.equal(result.ok, true);
    assert.equal(result.platform, 'sgx-dcap');
    assert.equal(result.measurements.mrenclave, MRENCLAVE);
    assert.equal(result.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
    assert.equal(result.debug, false);
  });

  it('exits 1 with the reason when the TCB minimum is not met', async () => {
    const r = await cli(
      'attest',
      'verify',
      join(SAMPLES, 'sgx_quote_v3.bin'),
      '--kind',
      'sgx-dcap',
      '--collateral',
      join(SAMPLES, 'sgx_quote_v3.collateral.json'),
      '--policy',
      policyFile('sgx-strict.json', { ...sgxPolicy, minTcbStatus: 'UpToDate' }),
    );
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).result.ok, false);
    assert.match(r.stderr, /TCB_STATUS_BELOW_MINIMUM/);
  });

  it('second attack review: on TDX an entry pinning MRTD alone is refused, as by verifyAttestationResponse', async () => {
    // MRTD measures the virtual firmware only: `attest verify` printed ok (exit 0) for any OS
    // and application on it, while the SDK's trust check refused the same entry.
    const tdx = (policy: string) =>
      cli(
        'attest',
        'verify',
        join(SAMPLES, 'tdx_quote_v4.bin'),
        '--kind',
        'tdx',
        '--collateral',
        join(SAMPLES, '../tdx/tdx_quote_v4.collateral.json'),
        '--policy',
        policy,
      );
    const tdxPolicy = (entry: string) => ({
      acceptedMeasurements: [entry],
      now: '2025-07-01T00:00:00Z',
      pinnedRoots: { intelSgxRootCa: join(SAMPLES, 'intel_sgx_root_ca.der') },
    });
    const mrtdOnly = await tdx(policyFile('tdx-mrtd.json', tdxPolicy(TDX_MRTD)));
    assert.equal(mrtdOnly.code, 1, mrtdOnly.stdout);
    const { result } = JSON.parse(mrtdOnly.stdout);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.reasons.map((r: { code: string }) => r.code),
      ['MEASUREMENT_NOT_ACCEPTED'],
    );
    assert.match(result.reasons[0].message, /must pin mrtd, rtmr0, rtmr1 and rtmr2/);
    const m = result.measurements as Record<string, string>;
    const entry = ['mrtd', 'rtmr0', 'rtmr1', 'rtmr2'].map((n) => `${n}=${m[n]}`).join(',');
    const pinned = await tdx(policyFile('tdx-pinned.json', tdxPolicy(entry)));
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(JSON.parse(pinned.stdout).result.ok, true);
  });

  it('second attack review: an Intel TCB status of OutOfDate is refused unless the policy file accepts it', () => {
    // The SDK's trust check refuses OutOfDate* by default; `attest verify` applied no floor.
    const file = loadPolicy(policyFile('no-floor.json', { acceptedMeasurements: [MRENCLAVE] }));
    assert.equal(file.minTcbStatus, undefined);
    for (const kind of ['sgx-dcap', 'tdx'] as const)
      assert.equal(cliEvidencePolicy(file, kind).minTcbStatus, 'ConfigurationAndSWHardeningNeeded');
    for (const kind of ['nitro', 'sev-snp', 'simulated'] as const)
      assert.equal(cliEvidencePolicy(file, kind).minTcbStatus, undefined);
    const accepting = { ...file, minTcbStatus: 'OutOfDate' as const };
    assert.equal(cliEvidencePolicy(accepting, 'tdx').minTcbStatus, 'OutOfDate');
  });

  it('reads an evidence file { kind, quote } and refuses a debug Nitro document', async () => {
    const nitroPolicy = (now: number) => ({
      acceptedMeasurements: [NITRO_PCR0, '0'.repeat(96)],
      now,
      pinnedRoots: { awsNitroRoot: join(SAMPLES, 'aws_nitro_enclaves_root_g1.pem') },
    });
    const evidence = (name: string) => {
      const path = join(dir, `${name}.json`);
      const quote = readFileSync(join(SAMPLES, name)).toString('base64');
      writeFileSync(path, JSON.stringify({ kind: 'nitro', quote }));
      return path;
    };
    const ok = await cli(
      'attest',
      'verify',
      evidence('nitro_2022-10-13.bin'),
      '--policy',
      policyFile('nitro.json', nitroPolicy(1665651482)),
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).result.measurements.pcr0, NITRO_PCR0);
    const debug = await cli(
      'attest',
      'verify',
      evidence('nitro_debug_2022-10-12.bin'),
      '--policy',
      policyFile('nitro-debug.json', nitroPolicy(1665582606)),
    );
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /DEBUG_NOT_ALLOWED/);
  });

  it('exits 2 on a bad policy file or raw bytes without --kind, naming the problem', async () => {
    const bad = await cli(
      'attest',
      'verify',
      join(SAMPLES, 'sgx_quote_v3.bin'),
      '--kind',
      'sgx-dcap',
      '--policy',
      policyFile('bad.json', { acceptedMeasurements: [], allowDebug: 'yes' }),
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--policy: acceptedMeasurements: .*allowDebug/s);
    const raw = await cli(
      'attest',
      'verify',
      join(SAMPLES, 'sgx_quote_v3.bin'),
      '--policy',
      policyFile('sgx2.json', sgxPolicy),
    );
    assert.equal(raw.code, 2);
    assert.match(raw.stderr, /raw evidence needs --kind/);
  });
});

describe('cloister attest verify: a service URL', () => {
  const enclave = testEnclave();
  let server: Server;
  let url = '';
  let tamper: ((body: Record<string, unknown>) => void) | null = null;
  before(async () => {
    await generate(enclave.state, { policy: 'signer' });
    server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname !== '/attestation/quote') return void res.writeHead(404).end();
      attestation(enclave.state, { nonce: u.searchParams.get('nonce') ?? '' }).then((body) => {
        tamper?.(body as unknown as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  after(() => server.close());

  const policy = () =>
    policyFile('sim.json', {
      acceptedMeasurements: [enclave.state.platform.measurement],
      allowDebug: true,
      now: enclave.clock.now,
      pinnedRoots: { simulatedVendorKeys: [readSimulatedVendorKey(enclave.dir)] },
    });

  it('verifies the live evidence and its binding of keys and nonce', async () => {
    tamper = null;
    const r = await cli('attest', 'verify', url, '--policy', policy());
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.result.ok, true);
    assert.equal(out.result.platform, 'simulated');
    assert.match(out.binding.nonce, /^[A-Za-z0-9_-]+$/);
    assert.equal(out.binding.image_hash, enclave.state.platform.measurement);
  });

  it('refuses a response that swaps the credential key after the evidence was made', async () => {
    tamper = (body) => {
      body.enclave_pubkey = Buffer.alloc(32, 9).toString('base64');
    };
    const r = await cli('attest', 'verify', url, '--policy', policy());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /REPORT_DATA_MISMATCH/);
  });

  it('client attack review: refuses a response whose image_hash is not the evidence measurement', async () => {
    // image_hash is not in the report data: printed under `binding`, it must be the attested one.
    tamper = (body) => {
      body.image_hash = 'ab'.repeat(48);
    };
    const r = await cli('attest', 'verify', url, '--policy', policy());
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /MEASUREMENT_NOT_ACCEPTED: response image_hash is not the evidence/);
  });

  it('refuses a response that does not echo the nonce sent', async () => {
    tamper = (body) => {
      body.nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
    };
    const r = await cli('attest', 'verify', url, '--policy', policy());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NONCE_MISMATCH/);
  });
});

describe('cloister attest measure', () => {
  it('prints what scripts/build-enclave.mjs builds', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cloister-measure-ref-'));
    const ref = await exec(process.execPath, [
      'scripts/build-enclave.mjs',
      '--outdir',
      out,
      '--json',
    ]);
    const r = await cli('attest', 'measure', '--json');
    assert.equal(r.code, 0, r.stderr);
    const { measurement } = JSON.parse(r.stdout);
    assert.match(measurement, /^[0-9a-f]{96}$/);
    assert.equal(measurement, JSON.parse(ref.stdout).measurement);
  });
});
