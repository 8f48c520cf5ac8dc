/**
 * src/protocol/attestation for the mutation run (docs/mutation-testing.md): the report-data
 * preimage recomputed from its definition in docs/protocol/attestation-response.md (context
 * string, the optional `jwt` and `cluster_id` members present exactly when given), each schema
 * rule at its bound, and the simulated evidence's signing context. These strings are the
 * protocol: an edit breaks every verifier written from the docs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToBase64, bytesToHex, concatBytes, utf8 } from '../../src/protocol/encoding.js';
import { jcsBytes } from '../../src/protocol/jcs.js';
import {
  AttestationNonceSchema,
  computeReportData,
  REPORT_DATA_CONTEXT,
  ReportDataInputSchema,
  reportDataPreimage,
  SigningKeysSchema,
  type ReportDataInput,
} from '../../src/protocol/attestation/report-data.js';
import {
  SIMULATED_EVIDENCE_FORMAT,
  simulatedEvidenceSigningInput,
  type SimulatedEvidenceBody,
} from '../../src/protocol/attestation/simulated-evidence.js';

const b64 = (fill: number) => bytesToBase64(new Uint8Array(32).fill(fill));
const kid = (c: string) => c.repeat(43);
const input = (over: Partial<ReportDataInput> = {}): ReportDataInput => ({
  enclave_pubkey: b64(1),
  key_id: kid('k'),
  signing_keys: { results: b64(2), log: b64(3) },
  nonce: 'bm9uY2Utbm9uY2Utbm9uY2U',
  ...over,
});

describe('report data (docs/protocol/attestation-response.md)', () => {
  it('the context string is the protocol', () => {
    assert.equal(REPORT_DATA_CONTEXT, 'cloister/report-data/v1');
  });

  it('without jwt and cluster_id: SHA-512 of the JCS of exactly the five earlier members', () => {
    const i = input();
    const want = jcsBytes({
      context: 'cloister/report-data/v1',
      enclave_pubkey: i.enclave_pubkey,
      key_id: i.key_id,
      signing_keys: { results: i.signing_keys.results, log: i.signing_keys.log },
      nonce: i.nonce,
    });
    assert.deepEqual(reportDataPreimage(i), want);
    assert.deepEqual(computeReportData(i), sha512(want));
    const text = utf8.decode(reportDataPreimage(i));
    assert.ok(!text.includes('cluster_id') && !text.includes('jwt'), text);
  });

  it('jwt and cluster_id are members exactly when given', () => {
    const jwt = [kid('a'), kid('b')];
    const cluster = bytesToHex(new Uint8Array(32).fill(9));
    const i = input({ signing_keys: { results: b64(2), log: b64(3), jwt }, cluster_id: cluster });
    const want = jcsBytes({
      context: 'cloister/report-data/v1',
      enclave_pubkey: i.enclave_pubkey,
      key_id: i.key_id,
      signing_keys: { results: b64(2), log: b64(3), jwt },
      nonce: i.nonce,
      cluster_id: cluster,
    });
    assert.deepEqual(reportDataPreimage(i), want);
    assert.deepEqual(computeReportData(i), sha512(want));
    // Each one on its own changes the report data.
    const base = bytesToHex(computeReportData(input()));
    assert.notEqual(bytesToHex(computeReportData(input({ cluster_id: cluster }))), base);
    assert.notEqual(
      bytesToHex(computeReportData(input({ signing_keys: { results: b64(2), log: b64(3), jwt } }))),
      base,
    );
  });

  it('the nonce: 11 to 128 base64url characters, anchored at both ends', () => {
    const ok = (n: string) => AttestationNonceSchema.safeParse(n).success;
    assert.ok(ok('a'.repeat(11)) && ok('A-_9'.repeat(32)));
    assert.ok(!ok('a'.repeat(10)) && !ok('a'.repeat(129)));
    assert.ok(!ok(`!${'a'.repeat(11)}`), 'a bad first character');
    assert.ok(!ok(`${'a'.repeat(11)}!`), 'a bad last character');
    const r = AttestationNonceSchema.safeParse(`${'a'.repeat(11)}=`);
    assert.ok(!r.success);
    assert.equal(r.error.issues[0]!.message, 'nonce must be base64url or hex');
  });

  it('signing keys: up to 64 JWT key ids, a short list too', () => {
    const keys = (n: number) => ({ results: b64(2), log: b64(3), jwt: Array(n).fill(kid('j')) });
    assert.ok(SigningKeysSchema.safeParse(keys(1)).success);
    assert.ok(SigningKeysSchema.safeParse(keys(64)).success);
    assert.ok(!SigningKeysSchema.safeParse(keys(65)).success);
  });

  it('the input schema keeps every member and checks each', () => {
    const i = { ...input(), cluster_id: bytesToHex(new Uint8Array(32).fill(7)) };
    assert.deepEqual(ReportDataInputSchema.parse(i), i);
    for (const [k, v] of [
      ['enclave_pubkey', 'short'],
      ['key_id', 'short'],
      ['nonce', 'short'],
      ['cluster_id', 'zz'],
    ] as const)
      assert.ok(!ReportDataInputSchema.safeParse({ ...i, [k]: v }).success, k);
  });
});

describe('simulated evidence (docs/protocol/attestation-response.md)', () => {
  it('signs "cloister/simulated-evidence/v1\\n" followed by the JCS of the body', () => {
    const body: SimulatedEvidenceBody = {
      format: SIMULATED_EVIDENCE_FORMAT,
      platform: 'simulated',
      debug: true,
      measurement: 'ab'.repeat(48),
      signer: 'cd'.repeat(32),
      report_data: 'ef'.repeat(64),
      timestamp: 1_800_000_000,
      vendor_key: b64(4),
    };
    assert.equal(SIMULATED_EVIDENCE_FORMAT, 'cloister-simulated-evidence/v1');
    assert.deepEqual(
      simulatedEvidenceSigningInput(body),
      concatBytes(utf8.encode('cloister/simulated-evidence/v1\n'), jcsBytes(body)),
    );
  });
});
