/**
 * Client attack review: on TDX, MRTD measures only the virtual firmware; a guest with the same
 * firmware and the attacker's own kernel, initrd and application gets genuine evidence with the
 * same MRTD over keys of its own. The encrypting path (verifyAttestationResponse, so
 * CryptoHelper, the CLI's --expect-measurement and the web app's pins) compared the expected
 * list with MRTD alone by exact string, so RTMR0–2 could not be pinned: an `mrtd=…,rtmr0=…`
 * entry was always refused, and MRTD alone passed. Now an entry may pin named measurements, and
 * a TDX response passes only an entry pinning mrtd and rtmr0–2. Recorded TDX v4 evidence
 * (test/vectors): its report data is not over our keys, so that reason always stays.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper, pinEntryFor, verifyEvidence } from '../../src/client/index.js';
import {
  DCAP_SAMPLES,
  ROOTS,
  bytes,
  dcapOptions,
  json,
  responseAround,
} from '../attestation/samples.js';

const NONCE = 'client-chosen-nonce-0001';
const BINDING = 'evidence: report data does not bind the returned keys and nonce';

describe('client attack review: TDX measurements pin RTMR0–2', () => {
  const s = DCAP_SAMPLES[1]!;
  const policy = dcapOptions(s, NONCE);
  const measurements = async () =>
    (
      await verifyEvidence(
        { kind: 'tdx', quote: bytes(s.quote), collateral: json(s.collateral) },
        {
          acceptedMeasurements: [s.primary],
          pinnedRoots: { intelSgxRootCa: ROOTS.intel },
          now: s.now,
        },
      )
    ).measurements;
  const reasons = async (expected: string[]) =>
    (
      await CryptoHelper.verifyAttestation(
        responseAround('tdx', bytes(s.quote), s.primary, NONCE),
        expected,
        policy,
      )
    ).reasons;

  it('accepts an entry pinning mrtd and rtmr0–2; refuses one with another RTMR', async () => {
    const m = await measurements();
    const pin = `mrtd=${m.mrtd},rtmr0=${m.rtmr0},rtmr1=${m.rtmr1},rtmr2=${m.rtmr2}`;
    assert.deepEqual(await reasons([pin]), [BINDING]);
    assert.deepEqual(
      await reasons([pin.toUpperCase().replace(/RTMR|MRTD/g, (x) => x.toLowerCase())]),
      [BINDING],
    );
    const otherKernel = pin.replace(`rtmr1=${m.rtmr1}`, `rtmr1=${'ab'.repeat(48)}`);
    assert.deepEqual(await reasons([otherKernel]), [
      'evidence: measurement is not one of the expected measurements',
      BINDING,
    ]);
  });

  it('refuses MRTD alone, or an entry leaving an RTMR out', async () => {
    const m = await measurements();
    for (const expected of [[s.primary], [`mrtd=${m.mrtd},rtmr0=${m.rtmr0},rtmr1=${m.rtmr1}`]]) {
      const r = await reasons(expected);
      assert.ok(
        r.some((x) => x.startsWith('policy: on TDX an expected measurement must pin mrtd')),
        String(r),
      );
    }
  });
  it('pinEntryFor names what the evidence measured: on TDX mrtd and rtmr0–2, which then pass the pin rule', async () => {
    // The web app's trust on first use pins the entry it shows: MRTD alone would fail every
    // later check on TDX, so the unpinned state offers the entry that pins RTMR0–2 too.
    const m = await measurements();
    const v = await CryptoHelper.verifyAttestation(
      responseAround('tdx', bytes(s.quote), s.primary, NONCE),
      [s.primary],
      policy,
    );
    assert.ok(v.claims);
    const entry = pinEntryFor(v.claims);
    assert.equal(entry, `mrtd=${m.mrtd},rtmr0=${m.rtmr0},rtmr1=${m.rtmr1},rtmr2=${m.rtmr2}`);
    assert.deepEqual(await reasons([entry]), [BINDING]);
    const sgx = DCAP_SAMPLES[0]!;
    const w = await CryptoHelper.verifyAttestation(
      responseAround('sgx', bytes(sgx.quote), sgx.primary, NONCE),
      [sgx.primary],
      dcapOptions(sgx, NONCE),
    );
    assert.ok(w.claims);
    assert.equal(pinEntryFor(w.claims), sgx.primary);
  });
});
