/**
 * Intel SGX (quote v3) and TDX (quote v4, v5) DCAP evidence (Intel "SGX ECDSA Quote Library
 * Reference", TDX DCAP Quote Generation Library). The verification itself is `@phala/dcap-qvl`
 * (quote and QE report signatures, QE binding, PCK/TCB/QE-identity chains, TCB-info and QE
 * identity signatures and windows, FMSPC, TCB level matching, attributes), run with the root the
 * caller pinned. This module is the glue around it, plus the checks dcap-qvl 0.3.9 leaves out:
 *
 * - each chain (quote PCK chain, TCB-info, QE-identity and PCK-CRL issuer chains) must end in a
 *   byte-identical copy of the pinned Intel root, and is re-verified with @peculiar/x509 at the
 *   caller's clock (dcap-qvl's browser certificate shim does not check validity dates);
 * - both CRLs must be signed by their issuers and current (dcap-qvl checks neither), and the PCK
 *   CRL must be the one of the PCK certificate's CA;
 * - the PCK chain text inside the quote must be strict PEM, and only zero bytes may follow the
 *   declared signature data, so no byte of a quote can change without changing the verdict;
 * - TDX: the module identity (MRSIGNERSEAM, SEAM attributes) and the module's TCB level from
 *   the TCB info's `tdxModule` / `tdxModuleIdentities` (dcap-qvl reads neither).
 */
import { Quote, QuoteVerifier, intel as dcapIntel, utils as dcapUtils } from '@phala/dcap-qvl';
import { bytesToHex, utf8 } from '../../protocol/encoding.js';
import {
  collateralBytes,
  fetchDcapCollateral,
  parseDcapCollateral,
  type DcapCollateral,
} from './dcap-collateral.js';
import { certificateDer, parseCanonicalPemChain, parseStrictPemCertificates } from './pem.js';
import { policyNow, Reasons, type Claims } from './policy.js';
import { TCB_STATUS_ORDER, type Evidence, type EvidencePolicy, type FailureCode } from './types.js';
import {
  parseCertificate,
  signedBy,
  verifyPinnedChain,
  x509,
  type Certificate,
} from './x509-chain.js';

const TEE_SGX = 0x00000000;
const TEE_TDX = 0x00000081;
const PCK_CERT_CHAIN = 5;

/** dcap-qvl's error messages (verify.js, 0.3.9) → our codes. First match wins. */
const DCAP_ERRORS: readonly [RegExp, FailureCode][] = [
  [/^Failed to decode quote/, 'PARSE_ERROR'],
  [
    /^Unsupported DCAP (quote version|TEE type|attestation key type)|must have version/,
    'UNSUPPORTED_EVIDENCE',
  ],
  [/^Unsupported DCAP PCK cert format|^Failed to extract PCK/, 'UNSUPPORTED_EVIDENCE'],
  [/^Failed to decode (TcbInfo|QeIdentity)/, 'COLLATERAL_INVALID'],
  [/issue date is in the future|^TCBInfo expired|^QE Identity expired/, 'COLLATERAL_EXPIRED'],
  [/^Signature is invalid for (tcb_info|qe_identity)$/, 'COLLATERAL_INVALID'],
  [/^Certificate is revoked/, 'CERT_REVOKED'],
  [/^Certificate is expired or not yet valid/, 'CERT_EXPIRED'],
  [
    /^Certificate chain is too short|^Failed to verify certificate chain|^CaUsedAsEndEntity/,
    'CERT_CHAIN_INVALID',
  ],
  [
    /^Signature is invalid for qe_report|^QE report hash mismatch|^ISV enclave report signature/,
    'SIGNATURE_INVALID',
  ],
  [
    /^Unsupported QE Identity id\/version|^QE (MRSIGNER|ISVPRODID|MISCSELECT|ATTRIBUTES) mismatch/,
    'COLLATERAL_MISMATCH',
  ],
  [/^Fmspc mismatch|quote with non-(TDX|SGX) TCB info/, 'COLLATERAL_MISMATCH'],
  [
    /^No matching TCB level found|^QE ISVSVN .* below minimum|^No TCB levels found/,
    'TCB_NOT_SUPPORTED',
  ],
  [/^TCB status is invalid/, 'TCB_NOT_SUPPORTED'],
  [/^Debug mode is enabled/, 'DEBUG_NOT_ALLOWED'],
  [
    /^Reserved bits in TD attributes|^SEPT_VE_DISABLE|^Invalid mr service td/,
    'UNSUPPORTED_EVIDENCE',
  ],
  [/^No (SGX|TDX) components/, 'COLLATERAL_INVALID'],
];

function dcapCode(message: string): FailureCode {
  return DCAP_ERRORS.find(([re]) => re.test(message))?.[1] ?? 'INTERNAL_ERROR';
}

const hex = (b: Uint8Array) => bytesToHex(new Uint8Array(b));

function claimsOf(quote: Quote): Claims {
  const details: Record<string, unknown> = {
    quoteVersion: quote.header.version,
    teeType: quote.header.teeType,
    qeSvn: quote.header.qeSvn,
    pceSvn: quote.header.pceSvn,
    qeVendorId: hex(quote.header.qeVendorId),
  };
  const sgx = quote.report.asSgx();
  if (sgx) {
    return {
      measurements: { mrenclave: hex(sgx.mrEnclave), mrsigner: hex(sgx.mrSigner) },
      primary: 'mrenclave',
      reportData: new Uint8Array(sgx.reportData),
      tcbStatus: null,
      // SGX ATTRIBUTES.FLAGS bit 1 is DEBUG (Intel SDM vol. 3D §38.7.1).
      debug: (sgx.attributes[0]! & 0x02) !== 0,
      evidenceTime: null,
      details: {
        ...details,
        isvProdId: sgx.isvProdId,
        isvSvn: sgx.isvSvn,
        attributes: hex(sgx.attributes),
        cpuSvn: hex(sgx.cpuSvn),
        miscSelect: sgx.miscSelect,
      },
    };
  }
  const td15 = quote.report.asTd15();
  const td = td15 ? td15.base : quote.report.asTd10()!;
  const measurements: Record<string, string> = {
    mrtd: hex(td.mrTd),
    rtmr0: hex(td.rtMr0),
    rtmr1: hex(td.rtMr1),
    rtmr2: hex(td.rtMr2),
    rtmr3: hex(td.rtMr3),
    mrseam: hex(td.mrSeam),
    mrsignerseam: hex(td.mrSignerSeam),
    mrconfigid: hex(td.mrConfigId),
    mrowner: hex(td.mrOwner),
    mrownerconfig: hex(td.mrOwnerConfig),
  };
  if (td15) measurements.mrservicetd = hex(td15.mrServiceTd);
  return {
    measurements,
    primary: 'mrtd',
    reportData: new Uint8Array(td.reportData),
    tcbStatus: null,
    // TD_ATTRIBUTES.TUD bit 0 is DEBUG (TDX module ABI spec, TDINFO_STRUCT).
    debug: (td.tdAttributes[0]! & 0x01) !== 0,
    evidenceTime: null,
    details: {
      ...details,
      tdAttributes: hex(td.tdAttributes),
      xfam: hex(td.xfam),
      teeTcbSvn: hex(td.teeTcbSvn),
      ...(td15 ? { teeTcbSvn2: hex(td15.teeTcbSvn2) } : {}),
    },
  };
}

/**
 * The signature data must be exactly what its length fields declare, with the certification
 * data types the verifier relies on (dcap-qvl reads the inner fields but checks neither the
 * outer length nor, for v4/v5, the outer type: those bytes are unsigned, so they must be pinned
 * here or a quote could change without its verdict changing). Layout (Intel quote formats):
 *   v3:    sig(64) attKey(64) qeReport(384) qeSig(64) u16 authLen auth u16 type=5 u32 n data(n)
 *   v4/v5: sig(64) attKey(64) u16 type=6 u32 n { qeReport(384) qeSig(64) u16 authLen auth
 *          u16 type u32 m data(m) }, with n covering the braces exactly.
 */
function checkStructure(raw: Uint8Array, quote: Quote, reasons: Reasons): boolean {
  const fail = (why: string) => {
    reasons.add('PARSE_ERROR', why);
    return false;
  };
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const u16 = (at: number) => (at + 2 <= raw.length ? view.getUint16(at, true) : -1);
  const u32 = (at: number) => (at + 4 <= raw.length ? view.getUint32(at, true) : -1);
  const signed = quote.signedLength();
  const sigLen = u32(signed);
  if (sigLen < 0) return fail('quote is truncated');
  const start = signed + 4;
  const end = start + sigLen;
  if (raw.length < end) return fail('quote is truncated');

  /** QE report certification data (or the v3 tail) at `at`; returns its end, or -1. */
  const qeSection = (at: number): { end: number; type: number } => {
    const authLen = u16(at + 384 + 64);
    if (authLen < 0) return { end: -1, type: -1 };
    const typeAt = at + 384 + 64 + 2 + authLen;
    const type = u16(typeAt);
    const size = u32(typeAt + 2);
    if (type < 0 || size < 0) return { end: -1, type: -1 };
    return { end: typeAt + 6 + size, type };
  };
  let inner: { end: number; type: number };
  if (quote.header.version === 3) {
    inner = qeSection(start + 128);
  } else {
    const outerType = u16(start + 128);
    const outerSize = u32(start + 130);
    if (outerType !== 6) return fail('certification data is not QE report certification data');
    inner = qeSection(start + 134);
    if (inner.end !== start + 134 + outerSize) return fail('QE report certification data length');
  }
  if (inner.end !== end) return fail('signature data length does not match its contents');
  if (![2, 3, PCK_CERT_CHAIN].includes(inner.type))
    return fail(`unsupported PCK certification data type ${inner.type}`);
  // Real quotes arrive zero-padded (EXPECTED.md); anything else after the end is refused.
  if (raw.subarray(end).some((b) => b !== 0))
    return fail('non-zero bytes after the declared signature data');
  return true;
}

function pemChain(
  text: string,
  label: string,
  reasons: Reasons,
  canonical = false,
): Uint8Array[] | null {
  const certs = canonical ? parseCanonicalPemChain(text) : parseStrictPemCertificates(text);
  if (!certs)
    reasons.add(
      'PARSE_ERROR',
      `${label}: not a ${canonical ? 'canonical' : 'strict'} PEM certificate list`,
    );
  return certs;
}

function caOf(pck: Certificate): 'processor' | 'platform' | null {
  if (/CN=Intel SGX PCK Processor CA(,|$)/.test(pck.issuer)) return 'processor';
  if (/CN=Intel SGX PCK Platform CA(,|$)/.test(pck.issuer)) return 'platform';
  return null;
}

async function obtainCollateral(
  evidence: Evidence,
  quote: Quote,
  pck: Uint8Array | null,
  policy: EvidencePolicy,
  reasons: Reasons,
): Promise<DcapCollateral | null> {
  if (evidence.collateral !== undefined && evidence.collateral !== null) {
    const c = parseDcapCollateral(evidence.collateral);
    if (!c) reasons.add('COLLATERAL_INVALID', 'collateral does not have the DCAP collateral shape');
    return c;
  }
  const source = policy.collateralSource;
  if (!source?.pccsUrl) {
    reasons.add('COLLATERAL_MISSING', 'no collateral supplied and no collateralSource.pccsUrl');
    return null;
  }
  const cert = pck ? parseCertificate(pck) : null;
  const ca = cert ? caOf(cert) : null;
  if (!pck || !ca) {
    reasons.add('COLLATERAL_MISSING', 'cannot tell FMSPC and PCK CA to fetch collateral for');
    return null;
  }
  try {
    const fmspc = hex(
      dcapUtils.getFmspc(dcapUtils.getIntelExtension(toDcapBuffer(pck) as never)),
    ).toUpperCase();
    return await fetchDcapCollateral({
      baseUrl: source.pccsUrl,
      fmspc,
      ca,
      tee: quote.header.teeType === TEE_TDX ? 'tdx' : 'sgx',
      fetch: source.fetch ?? globalThis.fetch.bind(globalThis),
      timeoutMs: source.timeoutMs,
    });
  } catch (err) {
    reasons.add('COLLATERAL_MISSING', `collateral fetch failed: ${(err as Error).message}`);
    return null;
  }
}

/** dcap-qvl's ASN.1 decoder wants its own Buffer type; get one without importing `buffer`. */
function toDcapBuffer(der: Uint8Array): Uint8Array {
  return dcapUtils.extractCerts(dcapUtils.derToPem(der as never, 'CERTIFICATE') as never)[0]!;
}

/** The checks dcap-qvl leaves out: pinned root in every chain, CRL signatures and windows. */
async function checkChainsAndCrls(
  pckChain: Uint8Array[],
  c: DcapCollateral,
  root: Uint8Array,
  now: number,
  reasons: Reasons,
): Promise<void> {
  const chainOf = (label: string, text: string) => pemChain(text, label, reasons);
  const chains: [string, Uint8Array[] | null][] = [
    ['PCK chain', pckChain],
    ['TCB info issuer chain', chainOf('TCB info issuer chain', c.tcb_info_issuer_chain)],
    ['QE identity issuer chain', chainOf('QE identity issuer chain', c.qe_identity_issuer_chain)],
    ['PCK CRL issuer chain', chainOf('PCK CRL issuer chain', c.pck_crl_issuer_chain)],
  ];
  const verified: Record<string, Certificate[]> = {};
  let rootCert: Certificate | null = null;
  for (const [label, chain] of chains) {
    if (!chain) continue;
    const v = await verifyPinnedChain(
      { label, chain, pinned: [root], rootInChain: true, now },
      reasons,
    );
    if (v) {
      verified[label] = v.certs;
      rootCert = v.root;
    }
  }
  for (const label of ['TCB info issuer chain', 'QE identity issuer chain']) {
    const certs = verified[label];
    if (certs && !isTcbSigner(certs))
      reasons.add(
        'COLLATERAL_INVALID',
        `${label}: the signer is not the Intel SGX TCB Signing certificate issued by the root`,
      );
  }
  const pckCerts = verified['PCK chain'];
  const crlIssuer = verified['PCK CRL issuer chain']?.[0];
  let rootCrl: x509.X509Crl;
  let pckCrl: x509.X509Crl;
  try {
    rootCrl = new x509.X509Crl(new Uint8Array(collateralBytes(c.root_ca_crl)));
    pckCrl = new x509.X509Crl(new Uint8Array(collateralBytes(c.pck_crl)));
  } catch {
    reasons.add('COLLATERAL_INVALID', 'a CRL does not parse');
    return;
  }
  const t = now * 1000;
  for (const [name, crl] of [
    ['root CA CRL', rootCrl],
    ['PCK CRL', pckCrl],
  ] as const) {
    if (crl.thisUpdate.getTime() > t || !crl.nextUpdate || crl.nextUpdate.getTime() < t)
      reasons.add('COLLATERAL_EXPIRED', `${name} is not current at ${new Date(t).toISOString()}`);
  }
  if (rootCert && !(await crlSignedBy(rootCrl, rootCert)))
    reasons.add('COLLATERAL_INVALID', 'root CA CRL is not signed by the pinned root');
  if (crlIssuer && !(await crlSignedBy(pckCrl, crlIssuer)))
    reasons.add('COLLATERAL_INVALID', 'PCK CRL is not signed by its issuer chain');
  if (pckCerts && pckCerts.length >= 2) {
    const [leaf, ca] = pckCerts as [Certificate, Certificate];
    if (pckCrl.issuer !== leaf.issuer)
      reasons.add('COLLATERAL_MISMATCH', 'PCK CRL is not the CRL of the PCK certificate issuer');
    if (pckCrl.findRevoked(leaf)) reasons.add('CERT_REVOKED', 'PCK certificate is revoked');
    if (rootCrl.findRevoked(ca)) reasons.add('CERT_REVOKED', 'PCK CA certificate is revoked');
  }
}

/**
 * TCB info and QE identity are signed by Intel's TCB Signing key, whose certificate the root
 * issues directly (Intel PCS API v4). Any other certificate under the root (a PCK of some
 * machine, whose key an attacker may have extracted from an out-of-date platform) must not be
 * able to sign the TCB levels that grade platforms; dcap-qvl accepts any non-CA leaf.
 */
function isTcbSigner(certs: readonly Certificate[]): boolean {
  return certs.length === 1 && /^CN=Intel SGX TCB Signing(,|$)/.test(certs[0]!.subject);
}

async function crlSignedBy(crl: x509.X509Crl, issuer: Certificate): Promise<boolean> {
  return crl.issuer === issuer.subject && (await signedBy(crl, issuer));
}

interface TdxModuleIdentity {
  id?: unknown;
  mrsigner?: unknown;
  attributes?: unknown;
  attributesMask?: unknown;
  tcbLevels?: { tcb?: { isvsvn?: unknown }; tcbStatus?: unknown; advisoryIDs?: unknown }[];
}

/** The TD report fields the TDX module checks read. */
export interface TdxModuleFields {
  teeTcbSvn: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
}

const hexEq = (bytes: Uint8Array, want: unknown) =>
  typeof want === 'string' && hex(bytes) === want.toLowerCase();

function maskedEq(got: Uint8Array, want: unknown, mask: unknown): boolean {
  if (typeof want !== 'string' || typeof mask !== 'string') return false;
  const w = want.length === got.length * 2 ? dcapHexBytes(want) : null;
  const m = mask.length === got.length * 2 ? dcapHexBytes(mask) : null;
  return !!w && !!m && got.every((b, i) => (b & m[i]!) === (w[i]! & m[i]!));
}

function dcapHexBytes(h: string): Uint8Array | null {
  return /^(?:[0-9a-fA-F]{2})*$/.test(h)
    ? Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16))
    : null;
}

/**
 * The TDX module checks of Intel's TDX TCB info v3 that dcap-qvl 0.3.9 leaves out: MRSIGNERSEAM
 * and SEAM attributes against `tdxModule` (major version 0) or the `tdxModuleIdentities` entry
 * `TDX_<major>` (TEE_TCB_SVN[1]), and then the module's own TCB level by its ISVSVN
 * (TEE_TCB_SVN[0]). Without them a module Intel lists as OutOfDate verified as UpToDate.
 * Returns the module's TCB status and advisories, or null with a reason added.
 */
export function tdxModuleStatus(
  td: TdxModuleFields,
  tcbInfoJson: string,
  reasons: Reasons,
): { status: string; advisoryIds: string[] } | null {
  let info: { tdxModule?: TdxModuleIdentity; tdxModuleIdentities?: unknown };
  try {
    info = JSON.parse(tcbInfoJson) as typeof info;
  } catch {
    info = null as never;
  }
  if (typeof info !== 'object' || info === null) {
    reasons.add('COLLATERAL_INVALID', 'TCB info is not a JSON object');
    return null;
  }
  const major = td.teeTcbSvn[1]!;
  const identities = Array.isArray(info.tdxModuleIdentities)
    ? (info.tdxModuleIdentities as TdxModuleIdentity[])
    : null;
  const id = `TDX_${major.toString(16).padStart(2, '0').toUpperCase()}`;
  const identity = major > 0 && identities ? identities.find((m) => m?.id === id) : info.tdxModule;
  if (!identity) {
    reasons.add('TCB_NOT_SUPPORTED', `TCB info has no TDX module identity ${id}`);
    return null;
  }
  if (
    !hexEq(td.mrSignerSeam, identity.mrsigner) ||
    !maskedEq(td.seamAttributes, identity.attributes, identity.attributesMask)
  ) {
    reasons.add(
      'COLLATERAL_MISMATCH',
      'TDX module signer (MRSIGNERSEAM) or SEAM attributes differ from the TCB info',
    );
    return null;
  }
  if (!(major > 0 && identities)) return { status: 'UpToDate', advisoryIds: [] };
  const level = (Array.isArray(identity.tcbLevels) ? identity.tcbLevels : []).find(
    (l) => typeof l?.tcb?.isvsvn === 'number' && td.teeTcbSvn[0]! >= l.tcb.isvsvn,
  );
  if (!level || typeof level.tcbStatus !== 'string') {
    reasons.add('TCB_NOT_SUPPORTED', `TDX module ${id} ISVSVN ${td.teeTcbSvn[0]} has no TCB level`);
    return null;
  }
  const advisoryIds = Array.isArray(level.advisoryIDs)
    ? level.advisoryIDs.filter((a): a is string => typeof a === 'string')
    : [];
  return { status: level.tcbStatus, advisoryIds };
}

/** The worse of two Intel TCB statuses (an out-of-date one keeps a configuration need). */
export function worseTcbStatus(a: string, b: string): string {
  const rank = (s: string) => {
    const i = (TCB_STATUS_ORDER as readonly string[]).indexOf(s);
    return i < 0 ? TCB_STATUS_ORDER.length : i;
  };
  const worse = rank(a) >= rank(b) ? a : b;
  const config = [a, b].some((s) => s.startsWith('Configuration'));
  return worse === 'OutOfDate' && config ? 'OutOfDateConfigurationNeeded' : worse;
}

export async function verifyDcap(
  evidence: Evidence,
  policy: EvidencePolicy,
  reasons: Reasons,
): Promise<Claims | null> {
  const raw = evidence.quote;
  const wantTee = evidence.kind === 'tdx' ? TEE_TDX : TEE_SGX;
  let quote: Quote;
  try {
    quote = Quote.parse(raw);
  } catch {
    reasons.add('PARSE_ERROR', 'quote does not parse');
    return null;
  }
  if (quote.header.teeType !== wantTee) {
    reasons.add(
      'UNSUPPORTED_EVIDENCE',
      `quote TEE type ${quote.header.teeType} is not ${evidence.kind}`,
    );
    return null;
  }
  if (!checkStructure(raw, quote, reasons)) return null;
  const claims = claimsOf(quote);

  let pckChain: Uint8Array[] | null = null;
  if (dcapIntelCertType(quote) === PCK_CERT_CHAIN) {
    pckChain = pemChain(
      utf8.decode(new Uint8Array(quote.rawCertChain())),
      'quote PCK chain',
      reasons,
      true,
    );
    if (!pckChain) return claims;
  }
  const pinned = policy.pinnedRoots?.intelSgxRootCa;
  const root = pinned instanceof Uint8Array ? certificateDer(pinned) : null;
  if (!root) {
    reasons.add('ROOT_NOT_PINNED', 'policy.pinnedRoots.intelSgxRootCa is not set');
    return claims;
  }
  const collateral = await obtainCollateral(
    evidence,
    quote,
    pckChain?.[0] ?? null,
    policy,
    reasons,
  );
  if (!collateral) return claims;
  if (pckChain) {
    // The quote's own chain is what the QE signed with; never let collateral replace it.
    delete collateral.pck_certificate_chain;
  } else if (collateral.pck_certificate_chain) {
    pckChain = pemChain(collateral.pck_certificate_chain, 'collateral PCK chain', reasons);
    if (!pckChain) return claims;
  } else {
    reasons.add('UNSUPPORTED_EVIDENCE', 'the quote carries no PCK chain and the collateral none');
    return claims;
  }

  const now = policyNow(policy);
  await checkChainsAndCrls(pckChain, collateral, root, now, reasons);
  const td = quote.report.asTd15()?.base ?? quote.report.asTd10();
  const module = td ? tdxModuleStatus(td, collateral.tcb_info, reasons) : null;
  if (module) claims.details.tdxModuleTcbStatus = module.status;
  try {
    const verified = new QuoteVerifier(toDcapBuffer(root) as never).verify(raw, collateral, now);
    claims.tcbStatus = module ? worseTcbStatus(verified.status, module.status) : verified.status;
    claims.details.advisoryIds = [
      ...new Set([...verified.advisory_ids, ...(module?.advisoryIds ?? [])]),
    ];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    reasons.add(dcapCode(message), `dcap-qvl: ${message}`);
  }
  if (claims.tcbStatus === 'Revoked' || claims.tcbStatus === 'Unknown') {
    reasons.add('TCB_NOT_SUPPORTED', `TCB status ${claims.tcbStatus}`);
  }
  const fmspc = safe(() => hex(dcapIntel.getFmspc(quote)).toUpperCase());
  if (fmspc) claims.details.fmspc = fmspc;
  return claims;
}

function dcapIntelCertType(quote: Quote): number {
  const q = quote as unknown as { innerCertType?: () => number };
  return typeof q.innerCertType === 'function' ? q.innerCertType() : PCK_CERT_CHAIN;
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}
