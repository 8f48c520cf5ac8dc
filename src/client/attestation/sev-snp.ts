/**
 * AMD SEV-SNP attestation reports (AMD SEV-SNP Firmware ABI spec 56860, §7.3 ATTESTATION_REPORT,
 * table 22; VCEK certificate spec 57230): the 1184-byte report, its ECDSA P-384/SHA-384
 * signature over bytes 0x000–0x29F with the VCEK (WebCrypto), and VCEK → ASK → ARK, RSA-PSS
 * SHA-384, to an ARK the caller pinned (@peculiar/x509). The VCEK must be the one of this chip
 * (hwID == CHIP_ID) at this TCB (its SPL extensions == REPORTED_TCB).
 *
 * Collateral: `{ vcek: DER|PEM, chain?: PEM (ASK, ARK) | ask?: DER|PEM }`, or none with
 * `collateralSource.amdKdsUrl` (AMD KDS API: `/vcek/v1/{product}/{hwid}?blSPL=…` and
 * `/vcek/v1/{product}/cert_chain`; the product is taken from the pinned ARK's CN).
 */
import { bytesToHex, isAllZero } from '../../protocol/encoding.js';
import { certificateDer, certificateList } from './pem.js';
import { fetchSnpCollateral } from './sev-snp-kds.js';
import { ctEqual, policyNow, type Claims, type Reasons } from './policy.js';
import type { Evidence, EvidencePolicy, SnpTcbMinimum } from './types.js';
import {
  extensionValue,
  parseCertificate,
  verifyPinnedChain,
  type Certificate,
} from './x509-chain.js';

export const SNP_REPORT_SIZE = 0x4a0;
const SIGNED_END = 0x2a0;
const SIG_R = 0x2a0;
const SIG_S = 0x2e8;
const SIG_COMPONENT = 72;
const SIG_ALGO_ECDSA_P384_SHA384 = 1;
const POLICY_DEBUG_BIT = 19n;
/** Guest policy bit 18, MIGRATE_MA: the guest may be associated with a migration agent. */
const POLICY_MIGRATE_MA_BIT = 18n;

/** VCEK X.509 extensions (AMD spec 57230 §3.1). */
const OID = {
  bootloader: '1.3.6.1.4.1.3704.1.3.1',
  tee: '1.3.6.1.4.1.3704.1.3.2',
  snp: '1.3.6.1.4.1.3704.1.3.3',
  microcode: '1.3.6.1.4.1.3704.1.3.8',
  hwid: '1.3.6.1.4.1.3704.1.4',
  productName: '1.3.6.1.4.1.3704.1.2',
} as const;

interface Tcb {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
}

/** TCB_VERSION: byte 0 boot loader, 1 TEE, 6 SNP, 7 microcode (ABI spec table 3). */
function tcbAt(r: Uint8Array, at: number): Tcb {
  return { bootloader: r[at]!, tee: r[at + 1]!, snp: r[at + 6]!, microcode: r[at + 7]! };
}

const le64 = (r: Uint8Array, at: number) =>
  new DataView(r.buffer, r.byteOffset + at, 8).getBigUint64(0, true);
const le32 = (r: Uint8Array, at: number) =>
  new DataView(r.buffer, r.byteOffset + at, 4).getUint32(0, true);
const hexAt = (r: Uint8Array, at: number, n: number) => bytesToHex(r.subarray(at, at + n));

function claimsOf(r: Uint8Array): Claims {
  const policy = le64(r, 0x08);
  return {
    measurements: {
      measurement: hexAt(r, 0x90, 48),
      host_data: hexAt(r, 0xc0, 32),
      id_key_digest: hexAt(r, 0xe0, 48),
      author_key_digest: hexAt(r, 0x110, 48),
      family_id: hexAt(r, 0x10, 16),
      image_id: hexAt(r, 0x20, 16),
    },
    primary: 'measurement',
    reportData: r.slice(0x50, 0x90),
    tcbStatus: null,
    debug: ((policy >> POLICY_DEBUG_BIT) & 1n) === 1n,
    evidenceTime: null,
    details: {
      version: le32(r, 0x00),
      guestSvn: le32(r, 0x04),
      policy: '0x' + policy.toString(16).padStart(16, '0'),
      vmpl: le32(r, 0x30),
      chipId: hexAt(r, 0x1a0, 64),
      reportedTcb: tcbAt(r, 0x180),
      currentTcb: tcbAt(r, 0x38),
      committedTcb: tcbAt(r, 0x1e0),
      launchTcb: tcbAt(r, 0x1f0),
      platformInfo: '0x' + le64(r, 0x40).toString(16),
      reportId: hexAt(r, 0x140, 32),
      firmware: { build: r[0x1e8], minor: r[0x1e9], major: r[0x1ea] },
    },
  };
}

/** Structure checks that need no key: size, version, algorithm, signature field encoding. */
function checkLayout(r: Uint8Array, reasons: Reasons): boolean {
  if (r.length !== SNP_REPORT_SIZE) {
    reasons.add('PARSE_ERROR', `SNP report must be ${SNP_REPORT_SIZE} bytes, got ${r.length}`);
    return false;
  }
  const version = le32(r, 0);
  if (version < 2 || version > 5) {
    reasons.add('UNSUPPORTED_EVIDENCE', `SNP report version ${version} is not supported`);
    return false;
  }
  if (le32(r, 0x34) !== SIG_ALGO_ECDSA_P384_SHA384) {
    reasons.add('UNSUPPORTED_EVIDENCE', 'SNP report signature algorithm is not ECDSA P-384');
    return false;
  }
  // KEY_INFO bits 4:2 (SIGNING_KEY): 0 = VCEK. VLEK-signed reports need another chain.
  if (((le32(r, 0x48) >> 2) & 0x7) !== 0) {
    reasons.add('UNSUPPORTED_EVIDENCE', 'SNP report is not signed by a VCEK');
    return false;
  }
  // R and S are little-endian in 72-byte fields whose top 24 bytes are zero; the rest of the
  // signature area is reserved zero. Unsigned bytes that could change freely are refused.
  if (
    !isAllZero(r.subarray(SIG_R + 48, SIG_R + SIG_COMPONENT)) ||
    !isAllZero(r.subarray(SIG_S + 48, SIG_S + SIG_COMPONENT)) ||
    !isAllZero(r.subarray(SIG_S + SIG_COMPONENT, SNP_REPORT_SIZE))
  ) {
    reasons.add('PARSE_ERROR', 'SNP signature field has non-zero padding');
    return false;
  }
  return true;
}

function p1363Signature(r: Uint8Array): Uint8Array {
  const sig = new Uint8Array(96);
  sig.set(r.slice(SIG_R, SIG_R + 48).reverse(), 0);
  sig.set(r.slice(SIG_S, SIG_S + 48).reverse(), 48);
  return sig;
}

async function reportSignatureValid(r: Uint8Array, vcek: Certificate): Promise<boolean> {
  try {
    const key = await vcek.publicKey.export();
    const alg = key.algorithm as EcKeyAlgorithm;
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-384') return false;
    return await globalThis.crypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-384' },
      key,
      new Uint8Array(p1363Signature(r)),
      new Uint8Array(r.subarray(0, SIGNED_END)),
    );
  } catch {
    return false;
  }
}

/** A DER INTEGER extension value (02 len bytes) as a number; null when it is not one. */
function derSmallInt(v: Uint8Array | null): number | null {
  if (!v || v.length < 3 || v[0] !== 0x02 || v[1] !== v.length - 2 || v.length > 6) return null;
  let n = 0;
  for (const b of v.subarray(2)) n = n * 256 + b;
  return n;
}

function checkVcekBinding(r: Uint8Array, vcek: Certificate, reasons: Reasons): string | null {
  const hwid = extensionValue(vcek, OID.hwid);
  // Milan/Genoa VCEKs carry the 64-byte CHIP_ID as the raw extension value.
  if (!hwid || !ctEqual(hwid, r.subarray(0x1a0, 0x1e0)))
    reasons.add('COLLATERAL_MISMATCH', "VCEK hwID is not this report's CHIP_ID");
  const reported = tcbAt(r, 0x180);
  for (const k of ['bootloader', 'tee', 'snp', 'microcode'] as const) {
    if (derSmallInt(extensionValue(vcek, OID[k])) !== reported[k])
      reasons.add('COLLATERAL_MISMATCH', `VCEK ${k} SPL differs from the report's REPORTED_TCB`);
  }
  const name = extensionValue(vcek, OID.productName);
  // IA5String: 16 len bytes.
  return name && name[0] === 0x16 ? new TextDecoder().decode(name.subarray(2)) : null;
}

/**
 * `minSnpTcb` against REPORTED_TCB (what the VCEK vouches for) and LAUNCH_TCB (the firmware and
 * microcode the guest was launched and measured on, and made its keys on): firmware and
 * microcode can be updated while a guest runs, which raises the first and not the second.
 */
function checkMinTcb(claims: Claims, min: SnpTcbMinimum | undefined, reasons: Reasons): void {
  if (!min) return;
  const tcbs: [string, Tcb][] = [
    ['reported', claims.details.reportedTcb as Tcb],
    ['launch', claims.details.launchTcb as Tcb],
  ];
  for (const k of ['bootloader', 'tee', 'snp', 'microcode'] as const) {
    const want = min[k];
    // One reason per component: the first TCB below the minimum.
    const below = want === undefined ? undefined : tcbs.find(([, tcb]) => !(tcb[k] >= want));
    if (below)
      reasons.add(
        'TCB_STATUS_BELOW_MINIMUM',
        `${below[0]} ${k} SPL ${below[1][k]} is below ${want}`,
      );
  }
}

interface SnpCollateral {
  vcek: Uint8Array;
  chain: Uint8Array[];
}

function parseCollateral(c: unknown, reasons: Reasons): SnpCollateral | null {
  if (typeof c !== 'object' || c === null) {
    reasons.add('COLLATERAL_INVALID', 'SEV-SNP collateral must be { vcek, chain | ask }');
    return null;
  }
  const o = c as { vcek?: unknown; chain?: unknown; ask?: unknown };
  const vcek = certificateDer(o.vcek as Uint8Array | string);
  const chain =
    o.chain !== undefined
      ? certificateList(o.chain)
      : o.ask !== undefined
        ? ((d) => (d ? [d] : null))(certificateDer(o.ask as Uint8Array | string))
        : null;
  if (!vcek || !chain) {
    reasons.add('COLLATERAL_INVALID', 'SEV-SNP collateral needs a VCEK and its ASK (or KDS chain)');
    return null;
  }
  return { vcek, chain };
}

export async function verifySevSnp(
  evidence: Evidence,
  policy: EvidencePolicy,
  reasons: Reasons,
): Promise<Claims | null> {
  const r = evidence.quote;
  if (!checkLayout(r, reasons)) return null;
  const claims = claimsOf(r);
  checkMinTcb(claims, policy.minSnpTcb, reasons);
  // The hypervisor chooses the guest policy at launch (MEASUREMENT does not cover it) and may
  // then bind a migration agent of its own, which can read and export the guest's memory.
  if (((le64(r, 0x08) >> POLICY_MIGRATE_MA_BIT) & 1n) === 1n)
    reasons.add(
      'UNSUPPORTED_EVIDENCE',
      'SNP guest policy allows a migration agent (MIGRATE_MA): refused',
    );

  const arks = (Array.isArray(policy.pinnedRoots?.amdArk) ? policy.pinnedRoots.amdArk : [])
    .map((a) => certificateDer(a))
    .filter((a): a is Uint8Array => a !== null);
  if (arks.length === 0) {
    reasons.add('ROOT_NOT_PINNED', 'policy.pinnedRoots.amdArk is not set (or not certificates)');
    return claims;
  }
  let collateral: SnpCollateral | null;
  if (evidence.collateral !== undefined && evidence.collateral !== null) {
    collateral = parseCollateral(evidence.collateral, reasons);
  } else if (policy.collateralSource?.amdKdsUrl) {
    collateral = await fetchSnpCollateral(r, arks, policy.collateralSource, reasons);
  } else {
    reasons.add('COLLATERAL_MISSING', 'no VCEK supplied and no collateralSource.amdKdsUrl');
    collateral = null;
  }
  if (!collateral) return claims;

  const vcek = parseCertificate(collateral.vcek);
  if (!vcek) {
    reasons.add('COLLATERAL_INVALID', 'VCEK does not parse');
    return claims;
  }
  await verifyPinnedChain(
    {
      label: 'VCEK chain',
      chain: [collateral.vcek, ...collateral.chain],
      pinned: arks,
      // A KDS chain ends with the ARK, which must then be the pinned one; an ASK alone is
      // checked against the pinned ARKs.
      rootInChain: false,
      now: policyNow(policy),
    },
    reasons,
  );
  const product = checkVcekBinding(r, vcek, reasons);
  if (product) claims.details.productName = product;
  if (!(await reportSignatureValid(r, vcek)))
    reasons.add('SIGNATURE_INVALID', 'SNP report signature does not verify with the VCEK');
  return claims;
}
