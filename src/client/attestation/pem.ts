/**
 * Strict PEM certificate lists (RFC 7468 §2, "strict" textual encoding) and DER/PEM input
 * normalisation. Strictness matters for evidence: the PCK chain inside a DCAP quote is PEM text
 * that nothing signs, so a lax parser (ignoring stray bytes, non-canonical base64, dropped
 * blocks) would let bytes of a quote change without the verdict changing.
 */
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const B64_LINE = /^[A-Za-z0-9+/=]+$/;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeCanonicalBase64(s: string): Uint8Array | null {
  if (s.length === 0 || !B64.test(s)) return null;
  try {
    const bytes = base64ToBytes(s);
    return bytesToBase64(bytes) === s ? bytes : null;
  } catch {
    return null;
  }
}

/**
 * Parses one or more PEM CERTIFICATE blocks. Lines end in LF or CRLF; only line ends may sit
 * between blocks; after the last block only line ends and then NUL bytes (DCAP QEs terminate
 * the chain with one). Returns null on any other byte, or on non-canonical base64.
 */
export function parseStrictPemCertificates(text: string): Uint8Array[] | null {
  const stripped = text.replace(/\0+$/, '');
  if (stripped.includes('\0')) return null;
  const lines = stripped.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const certs: Uint8Array[] = [];
  let body: string[] | null = null;
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.includes('\r')) return null;
    if (body === null) {
      if (line === '') continue;
      if (line !== BEGIN) return null;
      body = [];
    } else if (line === END) {
      const der = decodeCanonicalBase64(body.join(''));
      if (!der) return null;
      certs.push(der);
      body = null;
    } else {
      if (!B64_LINE.test(line)) return null;
      body.push(line);
    }
  }
  if (body !== null || certs.length === 0) return null;
  return certs;
}

/** The canonical PEM text of certificates: 64-character lines, LF (RFC 7468 §2, as openssl). */
export function canonicalPem(certs: readonly Uint8Array[]): string {
  return certs
    .map((der) => `${BEGIN}\n${(bytesToBase64(der).match(/.{1,64}/g) ?? []).join('\n')}\n${END}\n`)
    .join('');
}

/**
 * The PCK chain inside a DCAP quote, which no signature covers as text: only its canonical form
 * (what Intel's services hand out), optionally NUL-terminated as the QE writes it. Any other
 * byte anywhere in it is refused, so no byte of a quote can change while it still verifies.
 */
export function parseCanonicalPemChain(text: string): Uint8Array[] | null {
  const body = text.endsWith('\0') ? text.slice(0, -1) : text;
  const certs = parseStrictPemCertificates(body);
  return certs && canonicalPem(certs) === body ? certs : null;
}

/** A single certificate given as DER bytes, or as PEM text or PEM bytes. */
export function certificateDer(input: Uint8Array | string): Uint8Array | null {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) return null;
  if (input instanceof Uint8Array && input[0] === 0x30) return input;
  const text = typeof input === 'string' ? input : safeUtf8(input);
  if (text === null) return null;
  const certs = parseStrictPemCertificates(text.trim() + '\n');
  return certs && certs.length === 1 ? certs[0]! : null;
}

/** A list of certificates given as PEM text/bytes, or a single DER certificate. */
export function certificateList(input: unknown): Uint8Array[] | null {
  if (input instanceof Uint8Array && input[0] === 0x30) return [input];
  const text =
    typeof input === 'string' ? input : input instanceof Uint8Array ? safeUtf8(input) : null;
  if (text === null) return null;
  return parseStrictPemCertificates(text.trim() + '\n');
}

function safeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}
