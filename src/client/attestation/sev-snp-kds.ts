/**
 * Fetches a VCEK and its ASK/ARK chain from an AMD Key Distribution Service style endpoint
 * (AMD KDS interface spec 57230 §4: `GET {base}/vcek/v1/{product}/{hwid}?blSPL&teeSPL&snpSPL&
 * ucodeSPL` answers the VCEK in DER; `GET {base}/vcek/v1/{product}/cert_chain` the ASK then the
 * ARK in PEM). The product line is read from the pinned ARK's common name ("ARK-Milan"), so a
 * fetched chain can only ever be checked against a root the caller chose.
 */
import type { Reasons } from './policy.js';
import { certificateList } from './pem.js';
import type { EvidencePolicy } from './types.js';
import { parseCertificate } from './x509-chain.js';
import { boundedGet, DEFAULT_FETCH_TIMEOUT_MS } from './dcap-collateral.js';

const MAX_BODY = 64 * 1024;

const get = async (f: typeof fetch, url: string, timeoutMs: number): Promise<Uint8Array> =>
  (await boundedGet(f, url, MAX_BODY, timeoutMs)).body;

/** "ARK-Milan" → "Milan". */
function productOf(arkDer: Uint8Array): string | null {
  const cn = /(?:^|, )CN=ARK-([A-Za-z]+)(?:,|$)/.exec(parseCertificate(arkDer)?.subject ?? '');
  return cn ? cn[1]! : null;
}

export async function fetchSnpCollateral(
  report: Uint8Array,
  arks: readonly Uint8Array[],
  source: NonNullable<EvidencePolicy['collateralSource']>,
  reasons: Reasons,
): Promise<{ vcek: Uint8Array; chain: Uint8Array[] } | null> {
  const f = source.fetch ?? globalThis.fetch.bind(globalThis);
  const base = source.amdKdsUrl!.replace(/\/+$/, '').replace(/\/vcek\/v1$/, '');
  const hwid = Array.from(report.subarray(0x1a0, 0x1e0), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
  const t = report.subarray(0x180, 0x188);
  const query = `blSPL=${t[0]}&teeSPL=${t[1]}&snpSPL=${t[6]}&ucodeSPL=${t[7]}`;
  const timeout = source.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const errors: string[] = [];
  for (const ark of arks) {
    const product = productOf(ark);
    if (!product) continue;
    try {
      const vcek = await get(f, `${base}/vcek/v1/${product}/${hwid}?${query}`, timeout);
      const chain = certificateList(await get(f, `${base}/vcek/v1/${product}/cert_chain`, timeout));
      if (!chain) throw new Error('cert_chain is not a PEM certificate list');
      return { vcek, chain };
    } catch (err) {
      errors.push(`${product}: ${(err as Error).message}`);
    }
  }
  reasons.add(
    'COLLATERAL_MISSING',
    errors.length
      ? `VCEK fetch failed (${errors.join('; ')})`
      : 'no pinned ARK names a product line',
  );
  return null;
}
