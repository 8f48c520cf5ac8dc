/**
 * Certificate chains to a pinned root, with `@peculiar/x509` over WebCrypto (RFC 5280 §6,
 * reduced to what vendor attestation PKIs need): every link's signature, every certificate's
 * validity at the verifier's clock, issuer/subject name chaining, CA basic constraints, path
 * length and keyCertSign on issuers, exactly one DER object per certificate, and the top of
 * the chain byte-equal to a root the caller pinned. A root that comes with the evidence is
 * never trusted for itself, however well it is self-signed.
 */
import './reflect-shim.js';
import * as x509 from '@peculiar/x509';
import { sha256 } from '../../protocol/sha256.js';
import { bytesToHex } from '../../protocol/encoding.js';
import { ctEqual, type Reasons } from './policy.js';

export type Certificate = x509.X509Certificate;

/** Bounded memo of immutable parsed objects, keyed by the SHA-256 of their bytes. */
export class DigestCache<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly max: number) {}
  static key(...parts: Uint8Array[]): string {
    return parts.map((p) => bytesToHex(sha256(p))).join('');
  }
  get(key: string): T | undefined {
    return this.map.get(key);
  }
  set(key: string, value: T): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, value);
  }
}

const PARSED = new DigestCache<Certificate>(256);

/** Parses DER; null when it is not a certificate. */
export function parseCertificate(der: Uint8Array): Certificate | null {
  const key = DigestCache.key(der);
  const hit = PARSED.get(key);
  if (hit) return hit;
  // The library parses the first object and keeps all the bytes it was given as `rawData`, so
  // bytes after the certificate would ride along unnoticed: the outer SEQUENCE must span `der`.
  if (!oneDerSequence(der)) return null;
  try {
    const cert = new x509.X509Certificate(new Uint8Array(der));
    if (!ctEqual(new Uint8Array(cert.rawData), der)) return null;
    PARSED.set(key, cert);
    return cert;
  } catch {
    return null;
  }
}

/** Whether `der` is exactly one DER SEQUENCE (tag, minimal definite length, contents). */
function oneDerSequence(der: Uint8Array): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1]!;
  if (first < 0x80) return 2 + first === der.length;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n || der[2] === 0) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
  return len >= 0x80 && 2 + n + len === der.length;
}

/**
 * Whether `issuer` may issue a certificate that has `below` CA certificates under it on the
 * way to the leaf (RFC 5280 §6.1.4 (k), (l), (n)): a CA by basic constraints, a pathLen that
 * allows `below` intermediates, and, when it has a keyUsage extension, keyCertSign.
 */
function mayIssue(issuer: Certificate, below: number): boolean {
  const bc = issuer.getExtension(x509.BasicConstraintsExtension);
  if (bc === null || !bc.ca) return false;
  if (bc.pathLength !== undefined && below > bc.pathLength) return false;
  const ku = issuer.getExtension(x509.KeyUsagesExtension);
  return ku === null || (ku.usages & x509.KeyUsageFlags.keyCertSign) !== 0;
}

/**
 * Verified (certificate, issuer) pairs, keyed by the SHA-256 of both DER encodings: the same
 * vendor intermediates and collateral chains come with every quote, and a signature over fixed
 * bytes verified once stays verified. Only successes are kept, in a small bounded map.
 */
const VERIFIED_LINKS = new DigestCache<true>(512);

/** Whether `signed` (a certificate or CRL) carries a valid signature by `issuer`'s key. */
export async function signedBy(
  signed: Certificate | x509.X509Crl,
  issuer: Certificate,
): Promise<boolean> {
  const key = DigestCache.key(new Uint8Array(signed.rawData), new Uint8Array(issuer.rawData));
  if (VERIFIED_LINKS.get(key)) return true;
  let ok = false;
  try {
    ok =
      signed instanceof x509.X509Crl
        ? await signed.verify({ publicKey: issuer.publicKey })
        : await signed.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    ok = false;
  }
  if (ok) VERIFIED_LINKS.set(key, true);
  return ok;
}

export function validAt(cert: Certificate, nowSeconds: number): boolean {
  const t = nowSeconds * 1000;
  return cert.notBefore.getTime() <= t && t <= cert.notAfter.getTime();
}

export interface ChainInput {
  /** What the chain is, for messages ("PCK chain", "Nitro cabundle"). */
  label: string;
  /** DER, leaf first. May end with a copy of the root. */
  chain: readonly Uint8Array[];
  /** DER of the roots the caller pinned (one must anchor the chain). */
  pinned: readonly Uint8Array[];
  /** Whether the chain must end with a byte-identical copy of a pinned root. */
  rootInChain: boolean;
  now: number;
}

/**
 * Verifies leaf → … → pinned root. Adds reasons and returns the parsed chain (leaf first,
 * without the root) and the root that anchors it, or null when anything failed.
 */
export async function verifyPinnedChain(
  input: ChainInput,
  reasons: Reasons,
): Promise<{ certs: Certificate[]; root: Certificate } | null> {
  const { label, now } = input;
  if (input.pinned.length === 0) {
    reasons.add('ROOT_NOT_PINNED', `${label}: no root pinned in the policy`);
    return null;
  }
  if (input.chain.length === 0) {
    reasons.add('CERT_CHAIN_INVALID', `${label}: empty chain`);
    return null;
  }
  const certs: Certificate[] = [];
  for (const der of input.chain) {
    const c = parseCertificate(der);
    if (!c) {
      reasons.add('CERT_CHAIN_INVALID', `${label}: a certificate does not parse`);
      return null;
    }
    certs.push(c);
  }
  const pinned = input.pinned
    .map((der) => ({ der, cert: parseCertificate(der) }))
    .filter((p): p is { der: Uint8Array; cert: Certificate } => p.cert !== null);
  if (pinned.length === 0) {
    reasons.add('POLICY_INVALID', `${label}: the pinned root does not parse`);
    return null;
  }

  let root: Certificate | undefined;
  const top = input.chain[input.chain.length - 1]!;
  const match = pinned.find((p) => ctEqual(p.der, top));
  if (match) {
    root = match.cert;
    certs.pop();
  } else if (input.rootInChain) {
    reasons.add('ROOT_NOT_PINNED', `${label}: the chain's root is not the pinned root`);
    return null;
  } else {
    const last = certs[certs.length - 1]!;
    if (last.subject === last.issuer && (await signedBy(last, last))) {
      reasons.add(
        'ROOT_NOT_PINNED',
        `${label}: the chain ends in a self-signed root that is not pinned`,
      );
      return null;
    }
    for (const p of pinned) if (await signedBy(last, p.cert)) root = p.cert;
    if (!root) {
      reasons.add('ROOT_NOT_PINNED', `${label}: no pinned root issued the chain`);
      return null;
    }
  }
  if (certs.length === 0) {
    reasons.add('CERT_CHAIN_INVALID', `${label}: the chain holds only the root`);
    return null;
  }
  // The pinned root itself must be self-signed (a pinned intermediate is a policy mistake).
  if (!(await signedBy(root, root))) {
    reasons.add('POLICY_INVALID', `${label}: the pinned root is not self-signed`);
    return null;
  }

  let ok = true;
  for (let i = 0; i < certs.length; i++) {
    const cert = certs[i]!;
    const issuer = i + 1 < certs.length ? certs[i + 1]! : root;
    // Between this issuer and the leaf sit certs[1..i]: i intermediate CAs.
    if (cert.issuer !== issuer.subject || !mayIssue(issuer, i) || !(await signedBy(cert, issuer))) {
      reasons.add('CERT_CHAIN_INVALID', `${label}: certificate ${i} is not signed by its issuer`);
      ok = false;
    }
  }
  for (const cert of [...certs, root]) {
    if (!validAt(cert, now)) {
      reasons.add(
        'CERT_EXPIRED',
        `${label}: ${cert.subject} is not valid at ${new Date(now * 1000).toISOString()}`,
      );
      ok = false;
    }
  }
  return ok ? { certs, root } : null;
}

/** The raw value of an extension (its OCTET STRING contents), or null. */
export function extensionValue(cert: Certificate, oid: string): Uint8Array | null {
  const ext = cert.extensions.find((e) => e.type === oid);
  return ext ? new Uint8Array(ext.value) : null;
}

export { x509 };
