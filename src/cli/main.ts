#!/usr/bin/env node
/**
 * `cloister`: the command-line client, built on the SDK.
 *   cloister attest  --url U --expect-measurement H [--trust-simulated-key-file F]
 *   cloister submit  --url U --expect-measurement H [--trust-simulated-key-file F] --exchange E --label L --ttl S
 *                    (secrets from CLOISTER_API_KEY, CLOISTER_API_SECRET, CLOISTER_PASSPHRASE; never argv)
 *   cloister status  --url U --session ID
 *   cloister revoke  --url U --session ID
 * Exit codes: 0 ok, 1 refused or failed, 2 usage.
 */
import { parseArgs } from 'node:util';
import { CryptoHelper, EXCHANGES, type Exchange } from '../client/index.js';
import { requestJson } from './http.js';
import { attest } from './trust.js';

const USAGE = `usage: cloister <attest|submit|status|revoke> [options]
  --url URL                        service base URL (default http://127.0.0.1:3000)
  --expect-measurement HEX         accepted enclave measurement (repeatable); see npm run build:enclave
  --trust-simulated-key B64        trust this simulated vendor key (repeatable; dev only)
  --trust-simulated-key-file PATH  read it from a file, e.g. data/simulated-platform/vendor.pub
  --exchange NAME                  submit: ${EXCHANGES.join(' | ')}
  --label TEXT --ttl SECONDS       submit: session label and lifetime (300..MAX_TTL_SECONDS)
  --session ID                     status / revoke: the session id
  --json                           print raw JSON
Secrets for submit come from CLOISTER_API_KEY, CLOISTER_API_SECRET and CLOISTER_PASSPHRASE.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`cloister: ${message}\n`);
  process.exit(code);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string', default: 'http://127.0.0.1:3000' },
        'expect-measurement': { type: 'string', multiple: true },
        'trust-simulated-key': { type: 'string', multiple: true },
        'trust-simulated-key-file': { type: 'string', multiple: true },
        exchange: { type: 'string' },
        label: { type: 'string', default: 'main' },
        ttl: { type: 'string', default: '3600' },
        session: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
})();

const url = values.url.replace(/\/+$/, '');
const trust = {
  url,
  expectMeasurement: values['expect-measurement'],
  trustSimulatedKey: values['trust-simulated-key'],
  trustSimulatedKeyFile: values['trust-simulated-key-file'],
};
const print = (obj: unknown, text: string) =>
  process.stdout.write(`${values.json ? JSON.stringify(obj, null, 2) : text}\n`);

async function run(command: string | undefined): Promise<void> {
  switch (command) {
    case 'attest': {
      const { verification } = await attest(trust);
      if (!verification.valid) fail(`attestation refused:\n  ${verification.reasons.join('\n  ')}`);
      print(
        verification,
        `attestation valid: platform ${verification.platform}${verification.debug ? ' (debug)' : ''}, measurement ${verification.measurement}, key ${verification.keyId}`,
      );
      return;
    }
    case 'submit': {
      const exchange = values.exchange as Exchange | undefined;
      if (!exchange || !EXCHANGES.includes(exchange))
        fail(`--exchange must be one of ${EXCHANGES.join(', ')}`, 2);
      const apiKey = process.env.CLOISTER_API_KEY;
      const apiSecret = process.env.CLOISTER_API_SECRET;
      if (!apiKey || !apiSecret)
        fail('set CLOISTER_API_KEY and CLOISTER_API_SECRET in the environment', 2);
      const { verification } = await attest(trust);
      if (!verification.valid)
        fail(`attestation refused, nothing sent:\n  ${verification.reasons.join('\n  ')}`);
      const passphrase = process.env.CLOISTER_PASSPHRASE;
      const envelope = await CryptoHelper.encryptCredentials(
        { exchange, apiKey, apiSecret, ...(passphrase ? { passphrase } : {}) },
        verification.enclavePubkey!,
        { keyId: verification.keyId! },
      );
      const res = await requestJson(`${url}/enclave/submit_key`, {
        method: 'POST',
        body: { ...envelope, metadata: { exchange, label: values.label, ttl: Number(values.ttl) } },
      });
      const r = res as { session_id: string; expires_at: string };
      print(res, `session ${r.session_id} (expires ${r.expires_at})`);
      return;
    }
    case 'status':
    case 'revoke': {
      if (!values.session) fail('--session is required', 2);
      const res =
        command === 'status'
          ? await requestJson(`${url}/enclave/sessions/${encodeURIComponent(values.session)}`)
          : await requestJson(`${url}/enclave/revoke`, {
              method: 'POST',
              body: { session_id: values.session },
            });
      print(res, JSON.stringify(res));
      return;
    }
    default:
      process.stdout.write(`${USAGE}\n`);
      process.exit(values.help || command === 'help' ? 0 : 2);
  }
}

run(positionals[0]).catch((err: unknown) => fail((err as Error).message));
