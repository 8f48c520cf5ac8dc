/**
 * Intel DCAP collateral: the `QuoteCollateralV3` JSON layout dcap-qvl verifies (PCK CRL and its
 * issuer chain, root CA CRL, TCB info and QE identity with their issuer chains and signatures),
 * validated at the boundary, and fetched from a PCCS or Intel PCS style service (Intel PCS API
 * v4: `/sgx|tdx/certification/v4/{pckcrl,tcb,qe/identity,rootcacrl}`) at a configurable base URL.
 *
 * The TCB info and QE identity signatures cover the exact bytes of the `tcbInfo` and
 * `enclaveIdentity` members as served, so the fetcher cuts those members out of the response
 * text instead of re-serializing parsed JSON (which dcap-qvl's own fetcher does).
 */
import { z } from 'zod';
import { bytesToHex, hexToBytes, utf8 } from '../../protocol/encoding.js';

const hexOrBytes = z.union([
  z.string().regex(/^(?:[0-9a-fA-F]{2})+$/),
  z.array(z.number().int().min(0).max(255)).min(1),
]);

export const DcapCollateralSchema = z.object({
  pck_crl_issuer_chain: z.string().min(1),
  root_ca_crl: hexOrBytes,
  pck_crl: hexOrBytes,
  tcb_info_issuer_chain: z.string().min(1),
  tcb_info: z.string().min(2),
  tcb_info_signature: hexOrBytes,
  qe_identity_issuer_chain: z.string().min(1),
  qe_identity: z.string().min(2),
  qe_identity_signature: hexOrBytes,
  /** Only for quotes without an embedded PCK chain (certification data types 2 and 3). */
  pck_certificate_chain: z.string().min(1).nullish(),
});
export type DcapCollateral = z.infer<typeof DcapCollateralSchema>;

export function collateralBytes(v: string | number[]): Uint8Array {
  return typeof v === 'string' ? hexToBytes(v.toLowerCase()) : Uint8Array.from(v);
}

/** Accepts the collateral as an object, JSON text, or UTF-8 JSON bytes. */
export function parseDcapCollateral(input: unknown): DcapCollateral | null {
  let value = input;
  try {
    if (value instanceof Uint8Array) value = utf8.decode(value);
    if (typeof value === 'string') value = JSON.parse(value);
  } catch {
    return null;
  }
  const parsed = DcapCollateralSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/**
 * The exact text of a top-level member of a JSON object, as it appears in `text`. Only called
 * on text that JSON.parse accepted, so the scan below can rely on well-formed JSON.
 */
export function rawJsonMember(text: string, key: string): string | null {
  JSON.parse(text);
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const skipString = () => {
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    ws();
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      do {
        const d = text[i];
        if (d === '"') {
          skipString();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        if (d === '}' || d === ']') depth--;
        i++;
      } while (depth > 0);
      return;
    }
    while (i < text.length && !',}] \t\r\n'.includes(text[i]!)) i++;
  };
  ws();
  if (text[i] !== '{') return null;
  i++;
  for (;;) {
    ws();
    if (text[i] !== '"') return null;
    const keyStart = i;
    skipString();
    const name = JSON.parse(text.slice(keyStart, i)) as string;
    ws();
    i++; // colon
    ws();
    const start = i;
    skipValue();
    if (name === key) return text.slice(start, i);
    ws();
    if (text[i] !== ',') return null;
    i++;
  }
}

const MAX_BODY = 1024 * 1024;

export interface PccsRequest {
  baseUrl: string;
  fmspc: string;
  /** `processor` or `platform`: the PCK CA that issued the quote's PCK certificate. */
  ca: 'processor' | 'platform';
  tee: 'sgx' | 'tdx';
  fetch: typeof fetch;
  timeoutMs?: number;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;

function normaliseBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/(sgx|tdx)\/certification\/v4$/, '');
}

/**
 * GETs `url` from a collateral service and reads at most `maxBytes` of the answer: a larger one
 * (by its Content-Length, or as it streams in) is refused without reading the rest, so a hostile
 * service cannot make the verifier buffer an endless body for as long as the timeout allows.
 */
export async function boundedGet(
  f: typeof fetch,
  url: string,
  maxBytes: number,
  timeoutMs = DEFAULT_FETCH_TIMEOUT_MS,
): Promise<{ body: Uint8Array; header: (n: string) => string | null }> {
  const res = await f(url, { signal: AbortSignal.timeout(timeoutMs) });
  const header = (n: string) => res.headers.get(n);
  const refuse = async (why: string): Promise<never> => {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`GET ${url}: ${why}`);
  };
  if (!res.ok) return refuse(`HTTP ${res.status}`);
  if (Number(res.headers.get('content-length')) > maxBytes) return refuse('response too large');
  const reader = res.body?.getReader();
  if (!reader) return { body: new Uint8Array(0), header };
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const next = await reader.read();
    if (next.done) break;
    total += next.value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`GET ${url}: response too large`);
    }
    chunks.push(next.value);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return { body, header };
}

const get = (f: typeof fetch, url: string, timeoutMs?: number) =>
  boundedGet(f, url, MAX_BODY, timeoutMs);

function issuerChain(header: (n: string) => string | null, ...names: string[]): string {
  for (const n of names) {
    const v = header(n);
    if (v) return decodeURIComponent(v);
  }
  throw new Error(`missing header ${names.join(' or ')}`);
}

/** A CRL served as DER, or as hex text (PCCS serves some CRLs hex-encoded). */
function crlHex(body: Uint8Array): string {
  if (body[0] === 0x30) return bytesToHex(body);
  const text = utf8.decode(body).trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) throw new Error('CRL is neither DER nor hex');
  return text.toLowerCase();
}

function signedMember(text: string, member: string): { body: string; signature: string } {
  const body = rawJsonMember(text, member);
  const parsed = JSON.parse(text) as { signature?: unknown };
  if (!body || typeof parsed.signature !== 'string') throw new Error(`no ${member} or signature`);
  return { body, signature: parsed.signature };
}

/** Fetches the collateral for one FMSPC. Throws on any transport or format problem. */
export async function fetchDcapCollateral(req: PccsRequest): Promise<DcapCollateral> {
  const base = normaliseBase(req.baseUrl);
  const url = (tee: string, path: string) => `${base}/${tee}/certification/v4/${path}`;
  const t = req.timeoutMs;
  const pckCrl = await get(req.fetch, url('sgx', `pckcrl?ca=${req.ca}&encoding=der`), t);
  const tcb = await get(req.fetch, url(req.tee, `tcb?fmspc=${req.fmspc}`), t);
  const qe = await get(req.fetch, url(req.tee, 'qe/identity?update=standard'), t);
  const rootCrl = await get(req.fetch, url('sgx', 'rootcacrl'), t);
  const tcbSigned = signedMember(utf8.decode(tcb.body), 'tcbInfo');
  const qeSigned = signedMember(utf8.decode(qe.body), 'enclaveIdentity');
  const collateral = {
    pck_crl_issuer_chain: issuerChain(pckCrl.header, 'SGX-PCK-CRL-Issuer-Chain'),
    root_ca_crl: crlHex(rootCrl.body),
    pck_crl: crlHex(pckCrl.body),
    tcb_info_issuer_chain: issuerChain(
      tcb.header,
      'TCB-Info-Issuer-Chain',
      'SGX-TCB-Info-Issuer-Chain',
    ),
    tcb_info: tcbSigned.body,
    tcb_info_signature: tcbSigned.signature,
    qe_identity_issuer_chain: issuerChain(qe.header, 'SGX-Enclave-Identity-Issuer-Chain'),
    qe_identity: qeSigned.body,
    qe_identity_signature: qeSigned.signature,
  };
  const parsed = DcapCollateralSchema.safeParse(collateral);
  if (!parsed.success) throw new Error('fetched collateral has an unexpected shape');
  return parsed.data;
}
