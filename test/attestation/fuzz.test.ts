/**
 * Property tests (fast-check) of every evidence parser behind verifyEvidence: random bytes,
 * real samples with random mutations (flips, splices, truncations, insertions) and random
 * collateral never make it throw, reject, or hang; each run resolves with `ok: false` and at
 * least one reason whose code is one of FAILURE_CODES.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FAILURE_CODES,
  verifyEvidence,
  type Evidence,
  type EvidenceKind,
  type EvidencePolicy,
} from '../../src/client/index.js';
import { JAN_2025, JULY_2025, ROOTS, bytes, json, text } from './samples.js';

const KINDS: EvidenceKind[] = ['sgx-dcap', 'tdx', 'nitro', 'sev-snp', 'simulated'];

const BASE: Record<EvidenceKind, { quote: Uint8Array; collateral?: unknown; now: number }> = {
  'sgx-dcap': {
    quote: bytes('sgx/sgx_quote_v3.bin'),
    collateral: json('sgx/sgx_quote_v3.collateral.json'),
    now: JULY_2025,
  },
  tdx: {
    quote: bytes('tdx/tdx_quote_v4.bin'),
    collateral: json('tdx/tdx_quote_v4.collateral.json'),
    now: JULY_2025,
  },
  nitro: { quote: bytes('nitro/nitro_2022-10-13.bin'), now: 1665651482 },
  'sev-snp': {
    quote: bytes('sev-snp/snp_milan_virtee_report.bin'),
    collateral: {
      vcek: bytes('sev-snp/snp_milan_virtee_vcek.der'),
      chain: text('roots/amd_milan_ask_ark.pem'),
    },
    now: JAN_2025,
  },
  simulated: {
    quote: new TextEncoder().encode(
      JSON.stringify({
        format: 'cloister-simulated-evidence/v1',
        platform: 'simulated',
        debug: true,
      }),
    ),
    now: JAN_2025,
  },
};

const policy = (now: number): EvidencePolicy => ({
  // Accept the real samples' measurements, so only the mutation can cause a refusal.
  acceptedMeasurements: [
    '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb',
    '91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7',
    'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b',
    '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
  ],
  pinnedRoots: {
    intelSgxRootCa: ROOTS.intel,
    awsNitroRoot: ROOTS.aws,
    amdArk: [ROOTS.milanArk],
    simulatedVendorKeys: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='],
  },
  allowDebug: true,
  now,
});

const TIME_LIMIT_MS = 5_000;

async function mustRefuse(e: Evidence, p: EvidencePolicy): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    verifyEvidence(e, p),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('verifyEvidence hung')), TIME_LIMIT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(r.ok, false);
  assert.ok(r.reasons.length > 0);
  for (const reason of r.reasons)
    assert.ok((FAILURE_CODES as readonly string[]).includes(reason.code), reason.code);
}

/** The bytes without trailing zeros: DCAP quotes may carry zero padding (EXPECTED.md). */
const unpadded = (b: Uint8Array) => {
  let n = b.length;
  while (n > 0 && b[n - 1] === 0) n--;
  return b.subarray(0, n);
};
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** A mutation of `base` that certainly changes it (more than its zero padding). */
const mutation = (base: Uint8Array) =>
  fc
    .oneof(
      fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
        const c = base.slice();
        c[at]! ^= x;
        return c;
      }),
      fc.nat(base.length - 1).map((n) => base.slice(0, n)),
      fc
        .tuple(fc.nat(base.length), fc.uint8Array({ minLength: 1, maxLength: 64 }))
        .map(([at, ins]) => {
          const c = new Uint8Array(base.length + ins.length);
          c.set(base.subarray(0, at));
          c.set(ins, at);
          c.set(base.subarray(at), at + ins.length);
          return c;
        }),
      fc
        .tuple(fc.nat(base.length - 1), fc.uint8Array({ minLength: 1, maxLength: 32 }))
        .map(([at, junk]) => {
          const c = base.slice();
          c.set(junk.subarray(0, Math.min(junk.length, c.length - at)), at);
          return c;
        }),
    )
    .filter((m) => !sameBytes(unpadded(m), unpadded(base)));

describe('fuzz: verifyEvidence never throws or hangs, and refuses', () => {
  it('random bytes, as every kind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...KINDS),
        fc.uint8Array({ minLength: 0, maxLength: 2048 }),
        async (kind, quote) => {
          await mustRefuse(
            { kind, quote, collateral: BASE[kind].collateral },
            policy(BASE[kind].now),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('random structures in the right envelope: CBOR maps for Nitro, 1184-byte SNP reports, DCAP headers', async () => {
    const snp = fc.uint8Array({ minLength: 1184, maxLength: 1184 }).map((r) => {
      r.set([2, 0, 0, 0], 0);
      r.set([1, 0, 0, 0], 0x34);
      r.fill(0, 0x2a0 + 48, 0x2a0 + 72);
      r.fill(0, 0x2e8 + 48);
      return r;
    });
    const dcap = fc
      .tuple(fc.constantFrom(3, 4, 5), fc.uint8Array({ minLength: 600, maxLength: 1500 }))
      .map(([v, r]) => {
        r.set([v, 0, 2, 0], 0);
        r.set(v === 3 ? [0, 0, 0, 0] : [0x81, 0, 0, 0], 4);
        return r;
      });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          snp.map((q) => ['sev-snp', q] as const),
          dcap.map((q) => ['tdx', q] as const),
        ),
        async ([kind, quote]) => {
          await mustRefuse(
            { kind, quote, collateral: BASE[kind].collateral },
            policy(BASE[kind].now),
          );
        },
      ),
      { numRuns: 80 },
    );
  });

  for (const kind of ['sgx-dcap', 'tdx', 'nitro', 'sev-snp'] as const) {
    it(`mutated real ${kind} evidence`, async () => {
      const base = BASE[kind];
      await fc.assert(
        fc.asyncProperty(mutation(base.quote), async (quote) => {
          await mustRefuse({ kind, quote, collateral: base.collateral }, policy(base.now));
        }),
        { numRuns: 60 },
      );
    });
  }

  it('mutated or mistyped collateral', async () => {
    const c = BASE['sgx-dcap'].collateral as Record<string, unknown>;
    const field = fc.constantFrom(...Object.keys(c));
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.nat(300)),
      fc.uint8Array(),
      fc.object(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('sgx-dcap', 'sev-snp') as fc.Arbitrary<'sgx-dcap' | 'sev-snp'>,
        field,
        value,
        async (kind, f, v) => {
          const collateral = kind === 'sgx-dcap' ? { ...c, [f]: v } : { vcek: v, chain: v };
          await mustRefuse({ kind, quote: BASE[kind].quote, collateral }, policy(BASE[kind].now));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('hostile policies and evidence objects are refused, not thrown on', async () => {
    const s = BASE['sgx-dcap'];
    await mustRefuse({ kind: 'nope' as EvidenceKind, quote: s.quote }, policy(s.now));
    await mustRefuse({ kind: 'tdx', quote: 'abc' as unknown as Uint8Array }, policy(s.now));
    await mustRefuse({ kind: 'tdx', quote: new Uint8Array(70 * 1024) }, policy(s.now));
    await mustRefuse(
      { kind: 'sgx-dcap', quote: s.quote, collateral: s.collateral },
      null as unknown as EvidencePolicy,
    );
    await mustRefuse(
      { kind: 'sgx-dcap', quote: s.quote, collateral: s.collateral },
      {
        ...policy(s.now),
        acceptedMeasurements: 'x' as unknown as string[],
        minTcbStatus: 'Great' as never,
        maxAgeSeconds: -1,
      },
    );
    await mustRefuse(null as unknown as Evidence, policy(s.now));
    await mustRefuse(
      { kind: 'sgx-dcap', quote: s.quote, collateral: s.collateral },
      { ...policy(s.now), now: Number.NaN },
    );
  });
});
