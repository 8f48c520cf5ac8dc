/**
 * The exhaustive version of the byte-flip tests, too slow for the suite (about 25 minutes on
 * one core): every byte of every recorded sample, XORed with 0x01, 0x80 and 0xff, must be
 * refused (DCAP: except the zero padding after the declared end, which is refused too unless it
 * stays zero). Run on demand:
 *
 *   node --import tsx test/attestation/byte-flip-sweep.ts
 *
 * Prints every accepted mutation and exits non-zero if there is one. Last run: 2026-12-02, all
 * nine samples, no mutation accepted.
 */
import { verifyEvidence, type Evidence, type EvidencePolicy } from '../../src/client/index.js';
import { DCAP_SAMPLES, JAN_2025, ROOTS, bytes, dcapPolicy, json, text } from './samples.js';

const MASKS = [0x01, 0x80, 0xff];
let accepted = 0;

async function sweep(name: string, base: Evidence, policy: EvidencePolicy): Promise<void> {
  for (let i = 0; i < base.quote.length; i++) {
    for (const m of MASKS) {
      const quote = base.quote.slice();
      quote[i]! ^= m;
      const r = await verifyEvidence({ ...base, quote }, policy);
      if (r.ok) {
        accepted++;
        console.log(`ACCEPTED ${name} byte ${i} ^ 0x${m.toString(16)}`);
      }
    }
  }
  console.log(`${name}: ${base.quote.length} bytes x ${MASKS.length} masks done`);
}

for (const s of DCAP_SAMPLES) {
  await sweep(
    s.name,
    { kind: s.kind, quote: bytes(s.quote), collateral: json(s.collateral) },
    dcapPolicy(s),
  );
}
const chain = text('roots/amd_milan_ask_ark.pem');
for (const [n, m] of [
  [
    'gosev',
    'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01',
  ],
  [
    'virtee',
    '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
  ],
] as const) {
  await sweep(
    `snp_milan_${n}`,
    {
      kind: 'sev-snp',
      quote: bytes(`sev-snp/snp_milan_${n}_report.bin`),
      collateral: { vcek: bytes(`sev-snp/snp_milan_${n}_vcek.der`), chain },
    },
    {
      acceptedMeasurements: [m],
      pinnedRoots: { amdArk: [ROOTS.milanArk] },
      now: JAN_2025,
      allowDebug: true,
    },
  );
}
for (const [f, now, pcr0] of [
  [
    'nitro_2024-09-07',
    1725719859,
    'e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a',
  ],
  [
    'nitro_2022-10-13',
    1665651482,
    'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b',
  ],
  ['nitro_debug_2023-09-18', 1695049410, '00'.repeat(48)],
  ['nitro_debug_2022-10-12', 1665582606, '00'.repeat(48)],
] as const) {
  await sweep(
    f,
    { kind: 'nitro', quote: bytes(`nitro/${f}.bin`) },
    {
      acceptedMeasurements: [pcr0],
      pinnedRoots: { awsNitroRoot: ROOTS.aws },
      now,
      allowDebug: true,
    },
  );
}
console.log(`${accepted} mutation(s) accepted`);
process.exitCode = accepted === 0 ? 0 : 1;
