/**
 * `npm run demo`: the seed's client flow end to end, on this machine, with nothing external.
 * Starts the local fake exchange (a Binance-compatible API that checks every signature) and
 * the service (simulated TEE, PGlite in a temporary folder) pointed at it, then, as a client:
 * verifies the attestation, encrypts the exchange key to the enclave, submits it, requests the
 * signed aggregates, and checks the signature and the log inclusion as any third party would.
 * Not part of the product: the fake exchange exists for tests and this demo only.
 *
 * `npm run demo -- --keep`: the service and the fake exchange keep running (until Ctrl-C), the
 * signed result is saved to a file, and the demo prints the commands that verify it with the
 * CLI, trusting nothing the service says about itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeExchange } from './fake-exchange/index.js';
import { randomUUID } from 'node:crypto';
import {
  CryptoHelper,
  encryptPassword,
  fetchAggregatesLogProof,
  verifyAggregatesInclusion,
  verifySignedAggregates,
} from '../src/client/index.js';
import { loadConfig } from '../src/host/config.js';
import { createService } from '../src/host/service.js';
import { readSimulatedVendorKey } from '../src/enclave/platform/simulated.js';

const step = (n: number, text: string) => console.log(`\n${n}. ${text}`);

async function json(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

const keep = process.argv.slice(2).includes('--keep');
const dataDir = mkdtempSync(join(tmpdir(), 'cloister-demo-'));
// The demo's own throwaway key: the fake exchange knows it, nobody else does.
const apiKey = `demo-key-${Math.random().toString(36).slice(2, 10)}`;
const apiSecret = `demo-secret-${Math.random().toString(36).slice(2, 18)}`;
const fake = await startFakeExchange({
  accounts: [{ apiKey, secret: apiSecret, seed: 2026, fills: 20_000, days: 90 }],
});
const config = loadConfig({
  DATA_DIR: dataDir,
  PORT: process.env.DEMO_PORT ?? '3100',
  LOG_LEVEL: 'warn',
  BINANCE_BASE_URL: fake.url,
});
const service = await createService(config);
await service.app.listen({ host: '127.0.0.1', port: config.port });
const address = service.app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : config.port}`;
console.log(`fake exchange ${fake.url}, service ${base}, data ${dataDir}`);

try {
  step(1, 'Attestation: GET /attestation/quote with a fresh nonce, verified by the SDK');
  const nonce = CryptoHelper.newNonce();
  const attestation = await json(await fetch(`${base}/attestation/quote?nonce=${nonce}`));
  const measurement = attestation.image_hash as string;
  const vendorKey = readSimulatedVendorKey(join(dataDir, 'simulated-platform'));
  // A real client pins the measurement it built itself (npm run build:enclave); the demo takes it
  // from the response only because it also just built the enclave.
  const v = await CryptoHelper.requireValidAttestation(attestation, measurement, {
    nonce,
    trustedSimulatedVendorKeys: [vendorKey],
  });
  console.log(
    `   platform ${v.platform} (debug: ${v.debug}), measurement ${measurement.slice(0, 16)}…`,
  );

  step(2, 'Register and log in; the password is encrypted to the enclave key too');
  const email = `demo-${randomUUID()}@example.com`;
  const password = `demo-password-${randomUUID()}`;
  const account = (action: 'register' | 'login') =>
    fetch(`${base}/auth/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email,
        envelope: encryptPassword({ action, email, password }, v.enclavePubkey!, {
          keyId: v.keyId!,
        }),
      }),
    });
  await json(await account('register'));
  const { access_token } = (await json(await account('login'))) as { access_token: string };
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${access_token}` };
  console.log(`   ${email}: access token issued (ES256, signed inside the enclave)`);

  step(3, 'Encrypt the exchange key to the enclave key and POST /enclave/submit_key');
  const envelope = await CryptoHelper.encryptCredentials(
    { exchange: 'binance', apiKey, apiSecret },
    v.enclavePubkey!,
    { keyId: v.keyId! },
  );
  const submitted = await json(
    await fetch(`${base}/enclave/submit_key`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        ...envelope,
        metadata: { exchange: 'binance', label: 'demo', ttl: 3600 },
      }),
    }),
  );
  const sessionId = submitted.session_id as string;
  console.log(`   session ${sessionId}`);

  step(4, 'POST /enclave/request_aggregates: the enclave fetches the fills and signs the figures');
  const to = new Date(Date.UTC(2026, 10, 1)).toISOString();
  let answer = await json(
    await fetch(`${base}/enclave/request_aggregates`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ session_id: sessionId, to }),
    }),
  );
  while (answer.status === 'running') {
    console.log(`   running: ${JSON.stringify(answer.progress)}`);
    await new Promise((ok) => setTimeout(ok, 500));
    answer = await json(await fetch(`${base}${answer.status_url as string}`, { headers }));
  }
  const signed = answer.aggregates_signed as {
    payload: Record<string, unknown>;
    signature: string;
  };
  const p = signed.payload;
  console.log(
    `   ${p.trades} trades ${p.from} → ${p.to}: pnl ${p.pnl} ${p.reporting_currency}, volume ${p.volume}, sharpe ${p.sharpe}, max drawdown ${p.max_drawdown}, win rate ${p.win_rate}`,
  );
  console.log(`   symbols ${(p.symbols_scanned as string[]).join(', ')}; from ${p.api_host}`);

  step(5, 'Verify as a third party: signature under the attested results key, log inclusion');
  const sig = verifySignedAggregates(signed, {
    resultsKey: v.signingKeys!.results,
    expectedMeasurements: [measurement],
    // The figures came from the local fake exchange: a verifier accepts it only when told to.
    allowedApiHosts: [new URL(fake.url).host],
  });
  const log = answer.log as { index: number };
  const proof = await fetchAggregatesLogProof(base, log.index);
  const inc = verifyAggregatesInclusion(
    signed,
    { ...proof, merkleRoot: answer.merkle_root as string },
    { logPublicKey: v.signingKeys!.log },
  );
  console.log(`   signature: ${sig.valid ? 'valid' : sig.reasons.join('; ')}`);
  console.log(
    `   log: ${inc.valid ? `entry ${log.index} included in checkpoint of size ${inc.checkpoint.size}` : inc.reasons.join('; ')}`,
  );
  if (!sig.valid || !inc.valid) process.exitCode = 1;

  if (keep) {
    const resultFile = join(dataDir, 'result.json');
    writeFileSync(resultFile, JSON.stringify(answer, null, 2));
    const vendorFile = join(dataDir, 'simulated-platform', 'vendor.pub');
    const trust = `--expect-measurement "$M" --trust-simulated-key-file "$K"`;
    step(6, `Kept running (Ctrl-C stops both and deletes ${dataDir}). Verify it yourself:`);
    console.log(
      [
        `   export CLOISTER_URL=${base}`,
        `   M=${measurement}   # your own: npm run -s cli -- attest measure`,
        `   K=${vendorFile}`,
        `   npm run -s cli -- attest ${trust}`,
        `   npm run -s cli -- verify aggregates ${resultFile} ${trust} --allow-api-host ${new URL(fake.url).host}`,
        `   npm run -s cli -- log verify --entries ${trust}`,
        `   CLOISTER_PASSWORD='${password}' npm run -s cli -- login --email ${email} ${trust}`,
        `   npm run -s cli -- status --session ${sessionId}`,
      ].join('\n'),
    );
    // `on`, not `once`: a terminal's Ctrl-C reaches this process and npm, which relays it again;
    // that second SIGINT, with no listener left, killed the demo before it cleaned up. (The npm
    // script runs `node --import tsx`: the tsx CLI's relay SIGKILLs a child slow to acknowledge.)
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => resolve());
    });
  } else {
    step(6, 'POST /enclave/revoke: the session and its ciphertext are purged');
    const revoked = await json(
      await fetch(`${base}/enclave/revoke`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ session_id: sessionId }),
      }),
    );
    console.log(`   ${revoked.message as string}`);
  }
} finally {
  await service.stop();
  await fake.close();
  rmSync(dataDir, { recursive: true, force: true });
}
