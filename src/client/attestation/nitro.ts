/**
 * AWS Nitro Enclaves attestation documents (AWS "Verifying the root of trust"; COSE_Sign1 of
 * RFC 9052 §4.2 over CBOR, RFC 8949): strict CBOR decoding with cborg, the ES384 signature over
 * `Sig_structure = ["Signature1", protected, h'', payload]` with the enclave leaf's key
 * (WebCrypto), and the chain leaf ← cabundle[n-1] ← … ← cabundle[0], where cabundle[0] must be
 * byte-identical to the pinned AWS Nitro root, every certificate valid at the verifier's clock.
 *
 * Normalized result: measurements pcr0..pcrN (PCR0 is primary), report data = `user_data`,
 * debug = PCR0 all zero (the NSM reports zero PCRs for an enclave run in debug mode), evidence
 * time = `timestamp` (ms) in seconds. `nonce` and `public_key` are checked against
 * `policy.expectedNonce` / `expectedPublicKey` when given.
 */
import { decode, encode } from 'cborg';
import { bytesToHex, isAllZero } from '../../protocol/encoding.js';
import { certificateDer } from './pem.js';
import { bytesOf, ctEqual, policyNow, type Claims, type Reasons } from './policy.js';
import type { Evidence, EvidencePolicy } from './types.js';
import { parseCertificate, verifyPinnedChain } from './x509-chain.js';

const CBOR = { useMaps: true, strict: true, rejectDuplicateMapKeys: true } as const;
const COSE_SIGN1_TAG = 0xd2; // tag 18, one byte
const ES384 = -35;
const MAX_FIELD = 1024; // public_key, user_data, nonce (the 2024 sample uses all 1024 bytes)
const MAX_CERT = 1024 * 4;

class NitroFormatError extends Error {}

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new NitroFormatError(what);
}

interface NitroDocument {
  protectedBytes: Uint8Array;
  payloadBytes: Uint8Array;
  signature: Uint8Array;
  moduleId: string;
  timestamp: number;
  pcrs: Map<number, Uint8Array>;
  certificate: Uint8Array;
  cabundle: Uint8Array[];
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

function optionalBytes(v: unknown, name: string): Uint8Array | null {
  if (v === undefined || v === null) return null;
  need(
    v instanceof Uint8Array && v.length <= MAX_FIELD,
    `${name} must be at most ${MAX_FIELD} bytes`,
  );
  return v;
}

function parseDocument(raw: Uint8Array): NitroDocument {
  // Real NSM output is untagged; the same structure under COSE_Sign1's tag 18 is accepted.
  const bytes = raw[0] === COSE_SIGN1_TAG ? raw.subarray(1) : raw;
  const cose = decode(bytes, CBOR) as unknown;
  need(Array.isArray(cose) && cose.length === 4, 'not a COSE_Sign1 array of 4');
  // The envelope is outside the signature: strict decoding still takes indefinite-length
  // arrays and maps, so only its one canonical encoding (what the NSM writes) is accepted.
  need(ctEqual(encode(cose), bytes), 'COSE_Sign1 envelope is not canonical CBOR');
  const [protectedBytes, unprotected, payloadBytes, signature] = cose as unknown[];
  need(protectedBytes instanceof Uint8Array, 'protected header is not a byte string');
  need(unprotected instanceof Map && unprotected.size === 0, 'unprotected header is not empty');
  need(payloadBytes instanceof Uint8Array, 'payload is not a byte string');
  need(signature instanceof Uint8Array && signature.length === 96, 'signature is not 96 bytes');
  const header = decode(protectedBytes, CBOR) as unknown;
  need(
    header instanceof Map && header.size === 1 && header.get(1) === ES384,
    'protected header is not {1: -35} (ES384)',
  );
  const p = decode(payloadBytes, CBOR) as unknown;
  need(p instanceof Map, 'payload is not a map');
  const moduleId = p.get('module_id') as unknown;
  need(typeof moduleId === 'string' && moduleId.length > 0, 'module_id missing');
  need(p.get('digest') === 'SHA384', 'digest is not SHA384');
  const timestamp = p.get('timestamp') as unknown;
  need(
    typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp > 0,
    'timestamp',
  );
  const pcrs = p.get('pcrs') as unknown;
  need(pcrs instanceof Map && pcrs.size >= 1 && pcrs.size <= 32, 'pcrs must be a map of 1..32');
  for (const [k, v] of pcrs as Map<unknown, unknown>) {
    need(typeof k === 'number' && Number.isInteger(k) && k >= 0 && k < 32, 'PCR index');
    need(v instanceof Uint8Array && v.length === 48, 'PCR value is not 48 bytes');
  }
  need(pcrs.has(0), 'PCR0 missing');
  const certificate = p.get('certificate') as unknown;
  need(certificate instanceof Uint8Array && certificate.length <= MAX_CERT, 'certificate');
  const cabundle = p.get('cabundle') as unknown;
  need(Array.isArray(cabundle) && cabundle.length >= 1 && cabundle.length <= 16, 'cabundle');
  for (const c of cabundle as unknown[])
    need(c instanceof Uint8Array && c.length <= MAX_CERT, 'cabundle entry');
  return {
    protectedBytes,
    payloadBytes,
    signature,
    moduleId,
    timestamp,
    pcrs: pcrs as Map<number, Uint8Array>,
    certificate,
    cabundle: cabundle as Uint8Array[],
    publicKey: optionalBytes(p.get('public_key'), 'public_key'),
    userData: optionalBytes(p.get('user_data'), 'user_data'),
    nonce: optionalBytes(p.get('nonce'), 'nonce'),
  };
}

function claimsOf(doc: NitroDocument): Claims {
  const measurements: Record<string, string> = {};
  for (const [i, v] of [...doc.pcrs.entries()].sort((a, b) => a[0] - b[0]))
    measurements[`pcr${i}`] = bytesToHex(v);
  return {
    measurements,
    primary: 'pcr0',
    reportData: doc.userData,
    tcbStatus: null,
    debug: isAllZero(doc.pcrs.get(0)!),
    evidenceTime: Math.floor(doc.timestamp / 1000),
    details: {
      moduleId: doc.moduleId,
      timestampMs: doc.timestamp,
      publicKey: doc.publicKey ? bytesToHex(doc.publicKey) : null,
      nonce: doc.nonce ? bytesToHex(doc.nonce) : null,
      userData: doc.userData ? bytesToHex(doc.userData) : null,
    },
  };
}

function checkExact(
  got: Uint8Array | null,
  want: Uint8Array | string | undefined,
  name: string,
  code: 'NONCE_MISMATCH' | 'PUBLIC_KEY_MISMATCH',
  reasons: Reasons,
): void {
  if (want === undefined) return;
  const w = bytesOf(want);
  if (!w) reasons.add('POLICY_INVALID', `policy: expected ${name} is neither bytes nor hex`);
  else if (!got || !ctEqual(got, w)) reasons.add(code, `${name} differs from the expected value`);
}

export async function verifyNitro(
  evidence: Evidence,
  policy: EvidencePolicy,
  reasons: Reasons,
): Promise<Claims | null> {
  let doc: NitroDocument;
  try {
    doc = parseDocument(evidence.quote);
  } catch (err) {
    const what = err instanceof NitroFormatError ? err.message : 'CBOR decode error';
    reasons.add('PARSE_ERROR', `Nitro document: ${what}`);
    return null;
  }
  const claims = claimsOf(doc);
  checkExact(doc.nonce, policy.expectedNonce, 'nonce', 'NONCE_MISMATCH', reasons);
  checkExact(doc.publicKey, policy.expectedPublicKey, 'public_key', 'PUBLIC_KEY_MISMATCH', reasons);

  const pinned = policy.pinnedRoots?.awsNitroRoot;
  const rootDer = pinned === undefined ? null : certificateDer(pinned);
  if (!rootDer) {
    reasons.add(
      'ROOT_NOT_PINNED',
      'policy.pinnedRoots.awsNitroRoot is not set (or not a certificate)',
    );
    return claims;
  }
  await verifyPinnedChain(
    {
      label: 'Nitro chain',
      chain: [doc.certificate, ...[...doc.cabundle].reverse()],
      pinned: [rootDer],
      rootInChain: true,
      now: policyNow(policy),
    },
    reasons,
  );
  // Checked whatever the chain's verdict, so that each failure is reported on its own.
  if (!(await signatureValid(doc)))
    reasons.add('SIGNATURE_INVALID', 'COSE_Sign1 signature does not verify with the leaf key');
  return claims;
}

async function signatureValid(doc: NitroDocument): Promise<boolean> {
  try {
    const leaf = parseCertificate(doc.certificate);
    if (!leaf) return false;
    const key = await leaf.publicKey.export();
    const alg = key.algorithm as EcKeyAlgorithm;
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-384') return false;
    const toBeSigned = encode([
      'Signature1',
      doc.protectedBytes,
      new Uint8Array(0),
      doc.payloadBytes,
    ]);
    return await globalThis.crypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-384' },
      key,
      new Uint8Array(doc.signature),
      new Uint8Array(toBeSigned),
    );
  } catch {
    return false;
  }
}
