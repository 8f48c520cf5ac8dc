#!/usr/bin/env node
/**
 * `cloister`: the command-line client, built on the SDK.
 *   cloister attest  --url U --expect-measurement H [--trust-simulated-key-file F]
 *   cloister attest verify <file|url> --policy P [--kind K] [--collateral F]   (src/cli/attest.ts)
 *   cloister attest measure
 *   cloister submit  --url U --expect-measurement H [--trust-simulated-key-file F] --exchange E --label L --ttl S
 *                    (secrets from CLOISTER_API_KEY, CLOISTER_API_SECRET, CLOISTER_PASSPHRASE; never argv)
 *   cloister status  --url U --session ID
 *   cloister revoke  --url U --session ID
 *   cloister log verify  --url U --expect-measurement H [...] [--session ID | --entries] [--witness VKEY ...]
 *   cloister log monitor --url U --expect-measurement H [...] [--state FILE] [--interval S] [--once]
 *   cloister auth verify <token> --jwks <url|file> [--issuer I] [--audience A]   (src/cli/auth.ts)
 *   cloister auth register|login --url U --email E --expect-measurement H [...]  (CLOISTER_PASSWORD)
 *   cloister cluster init --operators ops.json --threshold K [--out DIR]      (src/cli/cluster.ts)
 *   cloister cluster provide-share --share F.age --identity KEY --manifest manifest.json [...]
 *   cloister verify aggregates FILE --url U --expect-measurement H [...] [--witness VKEY ...]
 *   cloister wallet create|list|sign|policy|recover|export [...]   (src/cli/wallet.ts)
 * Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 log alarm (monitor).
 */
import { parseArgs } from 'node:util';
import {
  CryptoHelper,
  EXCHANGES,
  LogClient,
  LogMonitor,
  type Exchange,
  type LogTrust,
} from '../client/index.js';
import { parseVerifierKey } from '../protocol/log/note.js';
import { bytesToBase64 } from '../protocol/encoding.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { requestJson } from './http.js';
import { AttestUsageError, attestMeasure, attestVerify } from './attest.js';
import { attest, trustedVendorKeys } from './trust.js';
import { verifyAggregatesFile } from './verify-aggregates.js';
import { AuthUsageError, authAccount, authMore, authVerify } from './auth.js';
import {
  ClusterUsageError,
  clusterApprove,
  clusterInit,
  clusterReshare,
  clusterSigningKey,
  provideShare,
} from './cluster.js';

const USAGE = `usage: cloister <attest|attest verify|attest measure|submit|status|revoke|log verify|log monitor> [options]
  attest verify <file|url> --policy P  verify evidence (a service URL, a saved response, or --kind K raw bytes)
  --url URL                        service base URL (default http://127.0.0.1:3000)
  --expect-measurement HEX         accepted enclave measurement (repeatable); see npm run build:enclave
  --trust-simulated-key B64        trust this simulated vendor key (repeatable; dev only)
  --trust-simulated-key-file PATH  read it from a file, e.g. data/simulated-platform/vendor.pub
  --expect-cluster HEX             the cluster id the enclave must prove (manifest.json cluster_id)
  --exchange NAME                  submit: ${EXCHANGES.join(' | ')}
  --label TEXT --ttl SECONDS       submit: session label and lifetime (300..MAX_TTL_SECONDS)
  --session ID                     status / revoke: the session id
  --witness VKEY                   log: a witness's signed-note verifier key (repeatable)
  --witness-threshold N            log: cosignatures required (default: all --witness keys)
  --entries                        log verify: re-hash every served entry against the checkpoint
  --state FILE                     log monitor: where the last good checkpoint is kept
  --interval SECONDS --once        log monitor: poll period (default 10), or a single check
  --allow-api-host HOST            verify aggregates: accept this exchange API host (repeatable;
                                   default: the exchange's production hosts)
  --expect-audience A --expect-nonce N
                                   verify aggregates: refuse a result not addressed to A with N
  --account-id ID --salt B64       verify aggregates: check the holder's opening of the result's
                                   exchange-account commitment (salt: account_opening.salt)
  --json                           print raw JSON
  auth verify <token> --jwks SRC  verify an access token against a JWKS (URL or file), with --issuer/--audience
  auth register|login --email E    account; password from CLOISTER_PASSWORD, encrypted to the enclave
  cluster init --operators F --threshold K [--out DIR]   genesis (operator token): .age shares + manifest.json
  cluster signing-key --out F       an operator's Ed25519 key for approving manifest changes
  cluster approve --proposal P --signing-key K --operator NAME    print one approval (JSON)
  cluster reshare --proposal P --approval A (repeatable) [--out DIR]  manifest change, new split
  cluster provide-share --share F.age --identity KEY --manifest M   give one share to an instance
                                   awaiting its quorum (checks its quote against the manifest)
  auth siwe --key-file F | --print --address A | --message-file M --signature S   Sign-In with Ethereum
  auth otp start|verify --email E [--code C]   email one-time codes
  auth methods [list | unlink ID]  login methods (CLOISTER_ACCESS_TOKEN)
  auth totp enroll [--totp-label L] | confirm --code C | remove | step-up --code C|--recovery-code R
  auth passkey [options]           passkeys need a browser (WebAuthn); prints the login options
Secrets for submit come from CLOISTER_API_KEY, CLOISTER_API_SECRET and CLOISTER_PASSPHRASE; the
access token for submit, status and revoke from CLOISTER_ACCESS_TOKEN.`;

/** A whole number option within [min, max], or a usage error (exit 2). */
function count(value: string, option: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) fail(`${option}: expected a whole number from ${min} to ${max}`, 2);
  return n;
}

function fail(message: string, code = 1): never {
  process.stderr.write(`cloister: ${message}\n`);
  process.exit(code);
}

// `cloister wallet ...` has its own options (src/cli/wallet.ts).
if (process.argv[2] === 'wallet') {
  const { walletMain } = await import('./wallet.js');
  process.exit(await walletMain(process.argv.slice(3)));
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
        'expect-cluster': { type: 'string' },
        exchange: { type: 'string' },
        label: { type: 'string', default: 'main' },
        ttl: { type: 'string', default: '3600' },
        session: { type: 'string' },
        json: { type: 'boolean', default: false },
        witness: { type: 'string', multiple: true },
        'witness-threshold': { type: 'string' },
        state: { type: 'string' },
        interval: { type: 'string', default: '10' },
        once: { type: 'boolean', default: false },
        entries: { type: 'boolean', default: false },
        'allow-api-host': { type: 'string', multiple: true },
        'expect-audience': { type: 'string' },
        'expect-nonce': { type: 'string' },
        'account-id': { type: 'string' },
        salt: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        policy: { type: 'string' },
        kind: { type: 'string' },
        collateral: { type: 'string' },
        jwks: { type: 'string' },
        issuer: { type: 'string', default: 'http://127.0.0.1:3000' },
        audience: { type: 'string', default: 'cloister' },
        email: { type: 'string' },
        operators: { type: 'string' },
        threshold: { type: 'string' },
        out: { type: 'string', default: '.' },
        share: { type: 'string' },
        identity: { type: 'string' },
        manifest: { type: 'string' },
        proposal: { type: 'string' },
        approval: { type: 'string', multiple: true },
        'signing-key': { type: 'string' },
        operator: { type: 'string' },
        code: { type: 'string' },
        'key-file': { type: 'string' },
        domain: { type: 'string' },
        'chain-id': { type: 'string' },
        address: { type: 'string' },
        print: { type: 'boolean' },
        'message-file': { type: 'string' },
        signature: { type: 'string' },
        'totp-label': { type: 'string' },
        'recovery-code': { type: 'string' },
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
  expectCluster: values['expect-cluster'],
};
const print = (obj: unknown, text: string) =>
  process.stdout.write(`${values.json ? JSON.stringify(obj, null, 2) : text}\n`);

async function run(command: string | undefined): Promise<void> {
  switch (command) {
    case 'attest': {
      if (positionals[1] === 'verify' || positionals[1] === 'measure')
        return runAttest(positionals[1]);
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
    case 'log':
      return runLog(positionals[1]);
    case 'verify':
      return runVerify(positionals[1], positionals[2]);
    case 'auth':
      return runAuth(positionals[1]);
    case 'cluster':
      return runCluster(positionals[1]);
    default:
      process.stdout.write(`${USAGE}\n`);
      process.exit(values.help || command === 'help' ? 0 : 2);
  }
}

async function runCluster(sub: string | undefined): Promise<void> {
  try {
    if (sub === 'init') {
      if (!values.operators || !values.threshold)
        fail('cluster init needs --operators FILE and --threshold K', 2);
      const r = await clusterInit({
        url,
        operatorsFile: values.operators,
        threshold: count(values.threshold, '--threshold', 2, 32),
        outDir: values.out,
        measurements: values['expect-measurement'],
      });
      print(r, `cluster ${r.manifest.cluster_id}: ${r.files.join(', ')} and manifest.json written`);
      return;
    }
    if (sub === 'signing-key') {
      const r = clusterSigningKey(values.out === '.' ? 'signing.key' : values.out);
      print(r, `signing key written; put this in ops.json as "signing_key": ${r.signing_key}`);
      return;
    }
    if (sub === 'approve') {
      if (!values.proposal || !values['signing-key'] || !values.operator)
        fail('cluster approve needs --proposal, --signing-key and --operator', 2);
      process.stdout.write(
        `${JSON.stringify(clusterApprove({ proposalPath: values.proposal, signingKeyPath: values['signing-key'], operator: values.operator }))}\n`,
      );
      return;
    }
    if (sub === 'reshare') {
      if (!values.proposal || !values.approval?.length)
        fail('cluster reshare needs --proposal and --approval (repeatable)', 2);
      const r = await clusterReshare({
        url,
        proposalPath: values.proposal,
        approvalPaths: values.approval,
        outDir: values.out,
      });
      print(r, `epoch ${r.manifest.epoch}: ${r.files.join(', ')} and manifest.json written`);
      return;
    }
    if (sub === 'provide-share') {
      if (!values.share || !values.identity || !values.manifest)
        fail('cluster provide-share needs --share, --identity and --manifest', 2);
      const r = await provideShare({
        url,
        sharePath: values.share,
        identityPath: values.identity,
        manifestPath: values.manifest,
        trustedSimulatedVendorKeys: trustedVendorKeys(trust),
      });
      print(r, `share ${r.index} (${r.operator}) accepted: ${r.have} of ${r.threshold}`);
      return;
    }
    fail(`unknown cluster command\n${USAGE}`, 2);
  } catch (err) {
    if (err instanceof ClusterUsageError) fail(err.message, 2);
    fail((err as Error).message);
  }
}

async function runAuth(sub: string | undefined): Promise<void> {
  try {
    if (sub === 'verify') {
      const claims = await authVerify({
        token: positionals[2],
        jwks: values.jwks,
        issuer: values.issuer,
        audience: values.audience,
      }).catch((err: unknown) => {
        if (err instanceof AuthUsageError) throw err;
        return fail(`token refused: ${(err as { code?: string }).code ?? (err as Error).message}`);
      });
      print(claims, `token valid: sub ${String(claims.sub)}, expires ${String(claims.exp)}`);
      return;
    }
    if (sub === 'register' || sub === 'login') {
      const res = await authAccount(sub, { email: values.email, url, trust });
      print(res, JSON.stringify(res));
      return;
    }
    if (
      sub === 'siwe' ||
      sub === 'otp' ||
      sub === 'methods' ||
      sub === 'totp' ||
      sub === 'passkey'
    ) {
      const res = await authMore(sub, positionals.slice(2), {
        url,
        email: values.email,
        code: values.code,
        keyFile: values['key-file'],
        domain: values.domain,
        chainId: values['chain-id'],
        address: values.address,
        print: values.print,
        messageFile: values['message-file'],
        signature: values.signature,
        label: values['totp-label'],
        recoveryCode: values['recovery-code'],
      });
      print(res, JSON.stringify(res));
      return;
    }
    fail('usage: cloister auth <verify|register|login|siwe|otp|methods> [options]', 2);
  } catch (err) {
    if (err instanceof AuthUsageError) fail(err.message, 2);
    throw err;
  }
}

/** `attest verify` prints the normalized result (always JSON) and exits 1 unless it is ok. */
async function runAttest(sub: 'verify' | 'measure'): Promise<void> {
  try {
    if (sub === 'measure') {
      const { measurement } = attestMeasure();
      print({ measurement }, `measurement (SHA-384 of the enclave bundle) ${measurement}`);
      return;
    }
    const target = positionals[2];
    if (!target || !values.policy)
      fail('usage: cloister attest verify <file|url> --policy <policy.json> [--kind K]', 2);
    const out = await attestVerify({
      target,
      policyPath: values.policy,
      ...(values.kind ? { kind: values.kind } : {}),
      ...(values.collateral ? { collateralPath: values.collateral } : {}),
    });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (!out.result.ok)
      fail(
        `evidence refused:\n  ${out.result.reasons.map((r) => `${r.code}: ${r.message}`).join('\n  ')}`,
      );
  } catch (err) {
    if (err instanceof AttestUsageError) fail(err.message, 2);
    throw err;
  }
}

/** `verify aggregates <file>`: the keys come from a verified attestation of --url. */
async function runVerify(what: string | undefined, file: string | undefined): Promise<void> {
  if (what !== 'aggregates' || !file) fail('usage: cloister verify aggregates <file> [options]', 2);
  const { verification } = await attest(trust);
  if (!verification.valid || !verification.signingKeys)
    fail(`attestation refused:\n  ${verification.reasons.join('\n  ')}`);
  const out = await verifyAggregatesFile({
    file,
    url,
    expectedMeasurements: values['expect-measurement'] ?? [],
    resultsKey: verification.signingKeys.results,
    logTrust: await logTrust(),
    ...(values['allow-api-host'] ? { allowedApiHosts: values['allow-api-host'] } : {}),
    ...(values['expect-audience'] ? { expectedAudience: values['expect-audience'] } : {}),
    ...(values['expect-nonce'] ? { expectedNonce: values['expect-nonce'] } : {}),
    ...(values['account-id'] ? { accountId: values['account-id'] } : {}),
    ...(values.salt ? { salt: values.salt } : {}),
  });
  if (!out.valid) {
    if (values.json) print(out, '');
    fail(`aggregates refused:\n  ${out.reasons.join('\n  ')}`);
  }
  const account = values['account-id']
    ? `; account ${values['account-id']} opens the commitment`
    : '';
  print(
    out,
    `aggregates valid: ${out.summary}${account}; logged at index ${out.index} (tree size ${out.tree_size})`,
  );
}

/** The log key comes from a verified attestation, never from the log server itself. */
async function logTrust(): Promise<LogTrust> {
  const { verification } = await attest(trust);
  if (!verification.valid || !verification.signingKeys)
    fail(`attestation refused:\n  ${verification.reasons.join('\n  ')}`);
  const witnesses = (values.witness ?? []).map((vkey) => {
    try {
      const k = parseVerifierKey(vkey);
      return { name: k.name, publicKey: bytesToBase64(k.publicKey) };
    } catch {
      return fail(`--witness: not a signed-note verifier key`, 2);
    }
  });
  const threshold =
    values['witness-threshold'] === undefined
      ? witnesses.length
      : witnesses.length === 0
        ? fail('--witness-threshold needs at least one --witness', 2)
        : count(values['witness-threshold'], '--witness-threshold', 1, witnesses.length);
  return { logPublicKey: verification.signingKeys.log, witnesses, witnessThreshold: threshold };
}

async function runLog(sub: string | undefined): Promise<void> {
  if (sub !== 'verify' && sub !== 'monitor')
    fail('usage: cloister log <verify|monitor> [options]', 2);
  const intervalMs = count(values.interval ?? '10', '--interval', 1, 86400) * 1000;
  // A session's entries are its owner's: send the access token when one is given.
  const token = process.env.CLOISTER_ACCESS_TOKEN;
  const client = new LogClient(
    url,
    await logTrust(),
    token ? (u) => fetch(u, { headers: { authorization: `Bearer ${token}` } }) : undefined,
  );
  if (sub === 'verify') {
    const checkpoint = await client.checkpoint();
    if (values.entries) {
      // The full audit: every entry's text, re-hashed, must rebuild the signed root.
      await client.auditEntries(checkpoint);
      print(
        checkpoint,
        `entries valid: all ${checkpoint.size} re-hash to checkpoint ${checkpoint.origin} root ${checkpoint.rootHash}`,
      );
      return;
    }
    if (!values.session) {
      print(
        checkpoint,
        `checkpoint valid: ${checkpoint.origin} size ${checkpoint.size} root ${checkpoint.rootHash}`,
      );
      return;
    }
    const { entries, checkpoint: cp } = await client.sessionEntries(values.session);
    print(
      { checkpoint: cp, entries },
      [
        `${entries.length} entries included in checkpoint ${cp.size}:`,
        ...entries.map((e) => `  #${e.index} ${e.text}`),
      ].join('\n'),
    );
    return;
  }
  if (sub === 'monitor') {
    const stateFile = values.state;
    // The state file holds the last good checkpoint and how far its entries were re-hashed.
    const { audit = null, ...last } =
      stateFile && existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};
    const monitor = new LogMonitor(client, 'size' in last ? last : null, audit);
    for (;;) {
      const report = await monitor.poll();
      if (report.alarm) {
        process.stderr.write(`cloister: LOG ALARM: ${report.alarm}\n`);
        process.exit(3);
      }
      if (stateFile && report.checkpoint)
        writeFileSync(stateFile, JSON.stringify({ ...report.checkpoint, audit: monitor.audited }));
      print(
        report.checkpoint,
        `ok: size ${report.checkpoint?.size} root ${report.checkpoint?.rootHash}`,
      );
      if (values.once) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
  fail('usage: cloister log <verify|monitor> [options]', 2);
}

run(positionals[0]).catch((err: unknown) => fail((err as Error).message));
