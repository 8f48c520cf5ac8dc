/** Client-side steps of the seed's flow, through the real SDK, against an injected app. */
import type { FastifyInstance } from 'fastify';
import { CryptoHelper, type ExchangeCredentials } from '../../src/client/index.js';
import type { TestService } from './service.js';

export async function verifiedAttestation(ts: TestService) {
  const nonce = CryptoHelper.newNonce();
  const res = await ts.service.app.inject({
    method: 'GET',
    url: `/attestation/quote?nonce=${nonce}`,
  });
  if (res.statusCode !== 200) throw new Error(`quote: ${res.statusCode} ${res.body}`);
  const attestation = res.json();
  const v = await CryptoHelper.requireValidAttestation(attestation, ts.measurement, {
    nonce,
    trustedSimulatedVendorKeys: [ts.vendorKey],
  });
  return { attestation, verification: v };
}

/** Distinctive plaintext values, easy to search for in dumps and logs. */
export function uniqueCredentials(tag = ''): ExchangeCredentials {
  const r = Math.random().toString(36).slice(2, 12);
  return {
    exchange: 'binance',
    apiKey: `APIKEY-PLAINTEXT-${tag}${r}-k`,
    apiSecret: `APISECRET-PLAINTEXT-${tag}${r}-s`,
  };
}

export async function submit(
  app: FastifyInstance,
  enclavePubkey: string,
  creds: ExchangeCredentials,
  metadata: Record<string, unknown> = { exchange: creds.exchange, label: 'main', ttl: 3600 },
  keyId?: string,
  /** The envelope's `issued_at` (default now): an envelope sealed earlier and still in flight. */
  issuedAt?: number,
) {
  const encrypted = await CryptoHelper.encryptCredentials(creds, enclavePubkey, {
    ...(keyId ? { keyId } : {}),
    ...(issuedAt !== undefined ? { issuedAt } : {}),
  });
  return app.inject({
    method: 'POST',
    url: '/enclave/submit_key',
    payload: { ...encrypted, metadata },
  });
}
