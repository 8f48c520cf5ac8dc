/**
 * The seed's client example, against a running service (npm start), with real verification:
 *   npx tsx examples/client-flow.ts
 * Env: CLOISTER_URL (default http://127.0.0.1:3000), CLOISTER_DATA_DIR (else DATA_DIR, else ./data), and the
 * measurement from `npm run build:enclave` (read here from dist/enclave/measurement.json).
 * CLOISTER_EMAIL and CLOISTER_PASSWORD name the account (registered on first use).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CryptoHelper,
  ENVELOPE_NOT_BEFORE_HEADER,
  encryptPassword,
  fetchJwks,
  verifyAccessToken,
} from '../src/client/index.js';

const base = process.env.CLOISTER_URL ?? 'http://127.0.0.1:3000';
// The service's own DATA_DIR works too, so one variable serves both.
const dataDir = process.env.CLOISTER_DATA_DIR ?? process.env.DATA_DIR ?? './data';
// What you trust, obtained out of band: the measurement you rebuilt, and (dev only) the
// simulated vendor key of this machine.
const expectedImageHash: string = JSON.parse(
  readFileSync('dist/enclave/measurement.json', 'utf8'),
).measurement;
const vendorKey = readFileSync(`${dataDir}/simulated-platform/vendor.pub`, 'utf8').trim();

// 1. Verify enclave attestation, bound to a nonce of ours.
const nonce = CryptoHelper.newNonce();
const quote = await fetch(`${base}/attestation/quote?nonce=${nonce}`);
const attestation = await quote.json();
// For 31 s after it restarts, the enclave refuses envelopes dated earlier than this header says
// (replay protection across restarts; an unsigned hint, the enclave enforces the rule).
const notBefore = Number(quote.headers.get(ENVELOPE_NOT_BEFORE_HEADER) ?? 0);
const issuedAt = () => Math.max(Math.floor(Date.now() / 1000), notBefore);
const verification = await CryptoHelper.requireValidAttestation(attestation, expectedImageHash, {
  nonce,
  trustedSimulatedVendorKeys: [vendorKey],
});

// 2. Log in (registering first if needed): the password is encrypted to the verified enclave
// key too, so the host never sees it. Then check the token ourselves against the JWKS.
const email = process.env.CLOISTER_EMAIL ?? `demo-${randomUUID()}@example.com`;
const password = process.env.CLOISTER_PASSWORD ?? `demo-password-${randomUUID()}`;
const account = (action: 'register' | 'login') =>
  fetch(`${base}/auth/${action}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      email,
      envelope: encryptPassword({ action, email, password }, verification.enclavePubkey!, {
        keyId: verification.keyId!,
        issuedAt: issuedAt(),
      }),
    }),
  });
let login = await account('login');
if (login.status === 401) {
  await account('register');
  login = await account('login');
}
const { access_token } = (await login.json()) as { access_token: string };
// The issuer the service names (pin it with CLOISTER_ISSUER in real use).
const oidc = (await fetch(`${base}/.well-known/openid-configuration`).then((r) => r.json())) as {
  issuer: string;
};
const claims = await verifyAccessToken(
  access_token,
  await fetchJwks(`${base}/.well-known/jwks.json`),
  {
    issuer: process.env.CLOISTER_ISSUER ?? oidc.issuer,
    audience: process.env.CLOISTER_AUDIENCE ?? 'cloister',
  },
);
console.log('logged in as', claims.sub);
const auth = { Authorization: `Bearer ${access_token}` };

// 3. Encrypt credentials to the verified enclave key (X25519 + HKDF-SHA256 + AES-256-GCM).
const encrypted = await CryptoHelper.encryptCredentials(
  { exchange: 'binance', apiKey: 'your-api-key', apiSecret: 'your-secret' },
  verification.enclavePubkey!,
  { keyId: verification.keyId!, issuedAt: issuedAt() },
);

// 4. Submit the ciphertext; only the enclave can open it.
const response = await fetch(`${base}/enclave/submit_key`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...auth },
  body: JSON.stringify({
    ...encrypted,
    metadata: { exchange: 'binance', label: 'main', ttl: 3600 },
  }),
});
const { session_id } = (await response.json()) as { session_id: string };
console.log('session', session_id);

// 5. Check it, then revoke it (the ciphertext is purged).
console.log(
  await fetch(`${base}/enclave/sessions/${session_id}`, { headers: auth }).then((r) => r.json()),
);
const revoked = await fetch(`${base}/enclave/revoke`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...auth },
  body: JSON.stringify({ session_id }),
}).then((r) => r.json());
console.log(revoked);
