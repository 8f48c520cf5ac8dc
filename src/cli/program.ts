/**
 * `cloister`'s commands, on commander: every command and subcommand has `--help` (its options,
 * an example and the environment variables it reads), an unknown command is named, `--json`
 * prints JSON everywhere, and the service URL and access token come from --url /
 * CLOISTER_URL and CLOISTER_ACCESS_TOKEN (or the login `cloister login` stored).
 * Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 log alarm (monitor).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { z } from 'zod';
import {
  CryptoHelper,
  EXCHANGES,
  LogClient,
  LogMonitor,
  aggregatesRequestMismatches,
  type AggregatesPayload,
  type Exchange,
  type LogTrust,
} from '../client/index.js';
import { answerJson } from '../client/service-call.js';
import { bytesToBase64 } from '../protocol/encoding.js';
import { parseVerifierKey } from '../protocol/log/note.js';
import { AttestUsageError, attestMeasure, attestVerify } from './attest.js';
import {
  AuthUsageError,
  authLink,
  authMore,
  type AuthMoreOptions,
  authAccount,
  authConfirmRegistration,
  authRecovery,
  authVerify,
  registrationNextStep,
} from './auth.js';
import {
  ClusterUsageError,
  clusterApprove,
  clusterCheckShare,
  clusterInit,
  clusterReshare,
  clusterSigningKey,
  provideShare,
} from './cluster.js';
import {
  accessToken,
  credentialsFile,
  forgetLogin,
  saveLogin,
  signedInUserId,
  storedLogin,
} from './credentials.js';
import { replaceFile } from './files.js';
import { patientFetch, retryDelayMs } from './http.js';
import { requestJson } from './http.js';
import { UsageError, fail, formatDate, human, printer, warn } from './output.js';
import { attest, trustedVendorKeys, type TrustOptions } from './trust.js';
import { verifyAggregatesFile } from './verify-aggregates.js';
import { runWallet, type WalletOptions } from './wallet.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** Every environment variable a command may read, as its help explains it. */
const ENV: Record<string, string> = {
  CLOISTER_URL: `service base URL when --url is not given (default ${DEFAULT_URL})`,
  CLOISTER_ACCESS_TOKEN:
    'access token for protected routes; wins over the login `cloister login` stored',
  XDG_CONFIG_HOME:
    'where `cloister login` keeps its tokens: $XDG_CONFIG_HOME/cloister (else ~/.config/cloister)',
  CLOISTER_API_KEY: 'the exchange API key to submit (never on the command line)',
  CLOISTER_API_SECRET: 'the exchange API secret to submit',
  CLOISTER_PASSPHRASE: 'the exchange API passphrase, for exchanges that have one (optional)',
  CLOISTER_PASSWORD: 'the account password; encrypted to the attested enclave before it is sent',
  CLOISTER_DEVICE_PASSPHRASE: 'passphrase of the device share file',
  CLOISTER_RECOVERY_PASSPHRASE: 'passphrase of the recovery share file',
};
const SERVICE_ENV = ['CLOISTER_URL', 'CLOISTER_ACCESS_TOKEN', 'XDG_CONFIG_HOME'];
const URL_ONLY_ENV = ['CLOISTER_URL'];

const collect = (value: string, previous: string[] = []) => [...previous, value];
const TRUST_EXAMPLE =
  '--expect-measurement "$(node -p "require(\'./dist/enclave/measurement.json\').measurement")" --trust-simulated-key-file data/simulated-platform/vendor.pub';

/** Help after the options: one example and the environment variables the command reads. */
function explain(cmd: Command, example: string, env: string[]): Command {
  const width = Math.max(...env.map((e) => e.length), 0);
  const envText =
    env.length === 0
      ? '  (none)'
      : env.map((name) => `  ${name.padEnd(width)}  ${ENV[name]}`).join('\n');
  return cmd.addHelpText('after', `\nExample:\n  $ ${example}\n\nEnvironment:\n${envText}\n`);
}

/** --url and --json: every command that talks to a service. */
function serviceOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--url <url>', 'service base URL').env('CLOISTER_URL').default(DEFAULT_URL),
    )
    .option('--json', 'print JSON instead of text', false);
}

/** --totp-code / --recovery-code: the second factor of a login on an account with TOTP. */
function secondFactorOptions(cmd: Command): Command {
  return cmd
    .option('--totp-code <digits>', 'the code from your authenticator app, if the account has TOTP')
    .option('--recovery-code <code>', 'or one of your TOTP recovery codes (used once)');
}

/** What the CLI trusts about the enclave (src/cli/trust.ts): never what the server says. */
function trustOptions(cmd: Command): Command {
  return serviceOptions(cmd)
    .option(
      '--expect-measurement <hex>',
      'accepted enclave measurement (repeatable); see npm run build:enclave',
      collect,
    )
    .option(
      '--trust-simulated-key <b64>',
      'trust this simulated vendor key (repeatable; development only)',
      collect,
    )
    .option(
      '--trust-simulated-key-file <path>',
      'read it from a file, e.g. data/simulated-platform/vendor.pub (repeatable)',
      collect,
    )
    .option('--expect-cluster <hex>', 'the cluster id the enclave must prove (manifest.json)');
}

interface CommonOptions {
  url: string;
  json: boolean;
  expectMeasurement?: string[];
  trustSimulatedKey?: string[];
  trustSimulatedKeyFile?: string[];
  expectCluster?: string;
}

const baseUrl = (o: { url: string }) => o.url.replace(/\/+$/, '');
const trustOf = (o: CommonOptions): TrustOptions => ({
  url: baseUrl(o),
  expectMeasurement: o.expectMeasurement,
  trustSimulatedKey: o.trustSimulatedKey,
  trustSimulatedKeyFile: o.trustSimulatedKeyFile,
  expectCluster: o.expectCluster,
});

/** A whole number option within [min, max], or a usage error (exit 2). */
function count(value: string, option: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) fail(`${option}: expected a whole number from ${min} to ${max}`, 2);
  return n;
}

async function attested(o: CommonOptions, what = 'attestation refused') {
  const { verification } = await attest(trustOf(o));
  if (!verification.valid) fail(`${what}:\n  ${verification.reasons.join('\n  ')}`);
  return verification;
}

/** Runs an action; usage errors exit 2, anything else 1, in the CLI's words. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (
        err instanceof UsageError ||
        err instanceof AttestUsageError ||
        err instanceof AuthUsageError ||
        err instanceof ClusterUsageError
      )
        fail((err as Error).message, 2);
      fail((err as Error).message);
    }
  };
}

/**
 * A warning when `--url` is `http://` to another machine: the password and secrets are sealed
 * to the enclave, but the access and refresh tokens (a login's answer, every bearer header)
 * and every unsealed answer cross the network in the clear, for anyone on the path to read or
 * change. Loopback stays quiet (the default URL, a local service or tunnel).
 */
export function cleartextUrl(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback =
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (loopback) return undefined;
  return `WARNING: ${u.origin} is plain http to another machine: tokens and unsealed answers cross the network in the clear (use https://)`;
}

export function buildProgram(): Command {
  const program = new Command('cloister')
    .description(
      'Command-line client of a Cloister service: attest the enclave, submit exchange keys, verify signed results and the transparency log, manage wallets and the cluster.',
    )
    .showSuggestionAfterError(true)
    // A command's options belong to it alone: `attest measure --json` is measure's --json.
    .enablePositionalOptions()
    .exitOverride()
    .hook('preAction', (_program, command) => {
      const why = cleartextUrl(command.opts()['url']);
      if (why) warn(why);
    });
  explain(program, `cloister attest ${TRUST_EXAMPLE}`, SERVICE_ENV).addHelpText(
    'after',
    '\nRun `cloister <command> --help` for the options of each command.\nExit codes: 0 ok, 1 refused or failed, 2 usage, 3 log alarm (log monitor).\n',
  );

  addAttest(program);
  addAccount(program);
  addSessions(program);
  addLog(program);
  addVerify(program);
  addAuth(program);
  addCluster(program);
  addWallet(program);
  return program;
}

function addAttest(program: Command): void {
  const attestCmd = trustOptions(
    program
      .command('attest')
      .description("verify the service's attestation against the measurement you expect"),
  ).action(
    action(async (o: CommonOptions) => {
      const v = await attested(o);
      printer(o.json)(
        v,
        `attestation valid: platform ${v.platform}${v.debug ? ' (debug)' : ''}, measurement ${v.measurement}, key ${v.keyId}`,
      );
    }),
  );
  explain(attestCmd, `cloister attest ${TRUST_EXAMPLE}`, URL_ONLY_ENV);

  explain(
    attestCmd
      .command('verify')
      .description(
        'verify evidence under a policy file: a service URL, a saved /attestation/quote response, or raw bytes with --kind (prints JSON)',
      )
      .argument('<target>', 'file or URL')
      .requiredOption('--policy <file>', 'policy JSON (docs/protocol/attestation-policy.md)')
      .option('--kind <kind>', 'raw evidence kind: nitro, sev-snp, sgx-dcap, tdx, simulated')
      .option('--collateral <file>', 'Intel collateral JSON for SGX/TDX')
      .option('--json', 'print JSON (always: the result is JSON)', true)
      .action(
        action(
          async (target: string, o: { policy: string; kind?: string; collateral?: string }) => {
            const out = await attestVerify({
              target,
              policyPath: o.policy,
              ...(o.kind ? { kind: o.kind } : {}),
              ...(o.collateral ? { collateralPath: o.collateral } : {}),
            });
            printer(true)(out);
            if (!out.result.ok)
              fail(
                `evidence refused:\n  ${out.result.reasons.map((r) => `${r.code}: ${r.message}`).join('\n  ')}`,
              );
          },
        ),
      ),
    'cloister attest verify quote.json --policy policy.json',
    [],
  );

  explain(
    attestCmd
      .command('measure')
      .description('rebuild the enclave bundle from this checkout and print its measurement')
      .option('--json', 'print JSON instead of text', false)
      .action(
        action((o: { json: boolean }) => {
          const { measurement } = attestMeasure();
          printer(o.json)(
            { measurement },
            `measurement (SHA-384 of the enclave bundle) ${measurement}`,
          );
        }),
      ),
    'cloister attest measure',
    [],
  );
}

/** The account's pending recovery, or null (also when the check itself fails: a login stands). */
async function pendingRecovery(
  url: string,
  accessToken: string,
): Promise<{ unlock_at: string } | null> {
  try {
    const res = await fetch(`${url}/auth/recovery`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    if (!res.ok) return null;
    const body = (await answerJson(res)) as { pending?: { unlock_at?: unknown } | null } | null;
    return typeof body?.pending?.unlock_at === 'string'
      ? { unlock_at: body.pending.unlock_at }
      : null;
  } catch {
    return null;
  }
}

function addAccount(program: Command): void {
  explain(
    trustOptions(
      secondFactorOptions(program.command('login'))
        .description(
          'log in (password encrypted to the attested enclave) and keep its tokens in your config folder, so later commands (step-up ones too, for AUTH_STEP_UP_SECONDS) need no token',
        )
        .requiredOption('--email <email>', 'account email'),
    ).action(
      action(
        async (o: CommonOptions & { email: string; totpCode?: string; recoveryCode?: string }) => {
          const url = baseUrl(o);
          const pair = (await authAccount('login', {
            email: o.email,
            url,
            trust: trustOf(o),
            totpCode: o.totpCode,
            recoveryCode: o.recoveryCode,
          })) as {
            access_token: string;
            refresh_token: string;
            user_id: string;
            refresh_expires_in: number;
          };
          saveLogin(url, pair, o.email);
          const until = formatDate(new Date(Date.now() + pair.refresh_expires_in * 1000));
          const recovery = await pendingRecovery(url, pair.access_token);
          printer(o.json)(
            {
              user_id: pair.user_id,
              url,
              credentials_file: credentialsFile(),
              recovery_pending: recovery,
            },
            `logged in to ${url} as ${o.email} (user ${pair.user_id}); login kept in ${credentialsFile()} until ${until}`,
          );
          // A recovery's time-lock protects only an owner who learns of it: say so at once.
          if (recovery)
            process.stderr.write(
              `cloister: WARNING: an account recovery is pending: a new password takes effect after ${formatDate(new Date(recovery.unlock_at))}; if you did not start it, run cloister auth recovery cancel\n`,
            );
        },
      ),
    ),
    `CLOISTER_PASSWORD=… cloister login --email me@example.com ${TRUST_EXAMPLE}`,
    ['CLOISTER_URL', 'CLOISTER_PASSWORD', 'XDG_CONFIG_HOME'],
  );

  explain(
    serviceOptions(
      program
        .command('logout')
        .description('end the stored login at the service and forget it locally'),
    ).action(
      action(async (o: CommonOptions) => {
        const url = baseUrl(o);
        const had = storedLogin(url);
        if (!had) {
          printer(o.json)({ logged_out: false, url }, `not logged in to ${url}`);
          return;
        }
        let ended = true;
        try {
          await requestJson(`${url}/auth/logout`, { method: 'POST', auth: true });
        } catch (err) {
          ended = false;
          warn(
            `the service did not end the session (${(err as Error).message}); forgetting it here`,
          );
        }
        forgetLogin(url);
        printer(o.json)({ logged_out: true, ended_at_service: ended, url }, `logged out of ${url}`);
      }),
    ),
    'cloister logout',
    ['CLOISTER_URL', 'XDG_CONFIG_HOME'],
  );
}

function addSessions(program: Command): void {
  explain(
    trustOptions(
      program
        .command('submit')
        .description(
          'encrypt an exchange API key to the attested enclave and submit it (a session)',
        )
        .addOption(new Option('--exchange <name>', 'the exchange').choices(EXCHANGES))
        .option('--label <text>', 'session label', 'main')
        .option('--ttl <seconds>', 'session lifetime (300..MAX_TTL_SECONDS)', '3600'),
    ).action(
      action(async (o: CommonOptions & { exchange?: Exchange; label: string; ttl: string }) => {
        if (!o.exchange) throw new UsageError(`--exchange must be one of ${EXCHANGES.join(', ')}`);
        const apiKey = process.env.CLOISTER_API_KEY;
        const apiSecret = process.env.CLOISTER_API_SECRET;
        if (!apiKey || !apiSecret)
          throw new UsageError('set CLOISTER_API_KEY and CLOISTER_API_SECRET in the environment');
        const v = await attested(o, 'attestation refused, nothing sent');
        const passphrase = process.env.CLOISTER_PASSPHRASE;
        const metadata = { exchange: o.exchange, label: o.label, ttl: Number(o.ttl) };
        // The lifetime, label and owner are sealed in: the host can forward none other.
        const userId = await signedInUserId(new URL(baseUrl(o)).origin);
        // Re-sealed once if a just-restarted enclave refuses its date (ENVELOPE_BEFORE_START).
        const res = (await CryptoHelper.sendCredentials(
          { exchange: o.exchange, apiKey, apiSecret, ...(passphrase ? { passphrase } : {}) },
          v.enclavePubkey!,
          {
            keyId: v.keyId!,
            ttl: metadata.ttl,
            label: metadata.label,
            ...(userId ? { userId } : {}),
          },
          (envelope) =>
            requestJson(`${baseUrl(o)}/enclave/submit_key`, {
              method: 'POST',
              auth: true,
              body: { ...envelope, metadata },
            }),
        )) as { session_id: string; expires_at: string };
        printer(o.json)(
          res,
          `session ${res.session_id} (expires ${formatDate(new Date(res.expires_at))})`,
        );
      }),
    ),
    `CLOISTER_API_KEY=… CLOISTER_API_SECRET=… cloister submit --exchange binance --label main --ttl 3600 ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, 'CLOISTER_API_KEY', 'CLOISTER_API_SECRET', 'CLOISTER_PASSPHRASE'],
  );

  for (const name of ['status', 'revoke'] as const) {
    explain(
      serviceOptions(
        program
          .command(name)
          .description(
            name === 'status'
              ? "a session's status and expiry"
              : 'revoke a session: its ciphertext is purged and the revocation logged',
          )
          .requiredOption('--session <id>', 'the session id'),
      ).action(
        action(async (o: CommonOptions & { session: string }) => {
          const url = baseUrl(o);
          const res =
            name === 'status'
              ? await requestJson(`${url}/enclave/sessions/${encodeURIComponent(o.session)}`, {
                  auth: true,
                })
              : await requestJson(`${url}/enclave/revoke`, {
                  method: 'POST',
                  auth: true,
                  body: { session_id: o.session },
                });
          printer(o.json)(res, human(res));
        }),
      ),
      `cloister ${name} --session 40ed7963-0cd6-46d7-9981-137b44ea17cf`,
      SERVICE_ENV,
    );
  }

  explain(
    serviceOptions(
      program
        .command('sessions')
        .description('your sessions, newest first (metadata only: never a key)')
        .option('--limit <n>', 'at most this many (1..500)', '100'),
    ).action(
      action(async (o: CommonOptions & { limit: string }) => {
        const limit = count(o.limit, '--limit', 1, 500);
        const res = (await requestJson(`${baseUrl(o)}/enclave/sessions?limit=${limit}`, {
          auth: true,
        })) as { sessions: unknown[] };
        printer(o.json)(res, human(res.sessions));
      }),
    ),
    'cloister sessions --limit 20',
    SERVICE_ENV,
  );

  addReport(program);
}

/** A date the user typed (any form Date.parse reads) as the API's ISO form, or a usage error. */
function isoDate(value: string, option: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) fail(`${option}: not a date (e.g. 2026-10-01T00:00:00Z)`, 2);
  return new Date(t).toISOString();
}

/** The job answer of POST /enclave/request_aggregates and GET /enclave/aggregates/jobs/:id. */
const JobAnswerSchema = z.looseObject({
  status: z.enum(['queued', 'running', 'done', 'cancelled']),
  // A UUID: it names the saved file and the route polled, so no path of the service's choosing.
  job_id: z.uuid(),
  progress: z.record(z.string().regex(/^[a-z_]{1,40}$/), z.number()).optional(),
});
type JobAnswer = z.infer<typeof JobAnswerSchema>;

function jobAnswer(answer: unknown): JobAnswer {
  const parsed = JobAnswerSchema.safeParse(answer);
  if (!parsed.success) fail('the service answered the aggregates request with no job');
  return parsed.data;
}

/**
 * `cloister report`: asks the enclave for signed aggregates of a session, follows the job until
 * it is done (progress on stderr), saves the signed JSON and verifies it as a third party would
 * (attestation, signature, log inclusion) before printing a figure.
 */
function addReport(program: Command): void {
  explain(
    logOptions(
      program
        .command('report')
        .description(
          "signed performance aggregates of a session: the enclave fetches the fills with the session's key, computes and signs; saved to a file and verified here",
        )
        .requiredOption('--session <id>', 'the session whose exchange key is used')
        .option('--from <iso>', 'window start (default: the first fill in the lookback)')
        .option('--to <iso>', 'window end (default: now)')
        .option('--symbols <list>', 'comma-separated symbols, e.g. BTC/USDT,ETH/USDT')
        .option('--currency <code>', 'reporting currency, e.g. USDT')
        .option('--audience <a>', "a verifier's name, echoed in the signed payload")
        .option('--nonce <n>', "a verifier's fresh challenge, echoed in the signed payload")
        .option('--out <file>', 'where to save the signed result (default report-<job id>.json)')
        .option(
          '--allow-api-host <host>',
          "accept this exchange API host (repeatable; default: the exchange's production hosts)",
          collect,
        ),
    ).action(
      action(
        async (
          o: LogOptions & {
            session: string;
            from?: string;
            to?: string;
            symbols?: string;
            currency?: string;
            audience?: string;
            nonce?: string;
            out?: string;
            allowApiHost?: string[];
          },
        ) => {
          const body = {
            session_id: o.session,
            ...(o.from ? { from: isoDate(o.from, '--from') } : {}),
            ...(o.to ? { to: isoDate(o.to, '--to') } : {}),
            ...(o.symbols ? { symbols: o.symbols.split(',').map((x) => x.trim()) } : {}),
            ...(o.currency ? { reporting_currency: o.currency } : {}),
            ...(o.audience ? { audience: o.audience } : {}),
            ...(o.nonce ? { nonce: o.nonce } : {}),
          };
          // Trust first: nothing is asked of a service whose evidence does not verify.
          const v = await attested(o, 'attestation refused, nothing requested');
          if (!v.signingKeys) fail('attestation refused: no signing keys');
          const url = baseUrl(o);
          const requestedAt = Math.floor(Date.now() / 1000);
          let answer = jobAnswer(
            await requestJson(`${url}/enclave/request_aggregates`, {
              method: 'POST',
              auth: true,
              body,
            }),
          );
          const jobId = answer.job_id;
          while (answer.status !== 'done') {
            if (answer.status === 'cancelled')
              fail(`job ${jobId} was cancelled (its session was revoked): nothing was signed`);
            const said = Object.entries(answer.progress ?? {})
              .map(([k, n]) => `${n} ${k.replace(/_/g, ' ')}`)
              .join(', ');
            process.stderr.write(`cloister: job ${jobId} ${answer.status} ${said}\n`);
            await new Promise((r) => setTimeout(r, 1000));
            // The job's own route, from its id: never a URL the service names.
            answer = jobAnswer(
              await requestJson(`${url}/enclave/aggregates/jobs/${jobId}`, { auth: true }),
            );
            if (answer.job_id !== jobId) fail(`the service answered for job ${answer.job_id}`);
          }
          const file = o.out ?? `report-${jobId}.json`;
          // The saved result is meant to be shared ("check it anywhere"); the salt that opens
          // its account commitment is not: it goes to a file of its own, readable by the owner.
          const { account_opening: opening, ...shareable } = answer as JobAnswer & {
            account_opening?: unknown;
          };
          // Replaced, never written through: the name holds the host's job id, so a link
          // planted at it (a shared folder) would otherwise have the host's text written into
          // the file it points to.
          replaceFile(file, `${JSON.stringify(shareable, null, 2)}\n`, 0o644);
          const openingFile = `${file}.account-opening.json`;
          if (opening !== undefined)
            replaceFile(openingFile, `${JSON.stringify({ account_opening: opening })}\n`, 0o600);
          const out = await verifyAggregatesFile({
            file,
            url,
            expectedMeasurements: o.expectMeasurement ?? [],
            resultsKey: v.signingKeys.results,
            logTrust: await logTrust(o),
            ...(o.allowApiHost ? { allowedApiHosts: o.allowApiHost } : {}),
            ...(o.audience ? { expectedAudience: o.audience } : {}),
            ...(o.nonce ? { expectedNonce: o.nonce } : {}),
          });
          // A genuine result of another session, window or run verifies too: is it this one?
          if (out.valid)
            out.reasons.push(
              ...aggregatesRequestMismatches(out.payload as AggregatesPayload, {
                sessionId: o.session,
                ...(body.from ? { from: body.from } : {}),
                ...(body.to ? { to: body.to } : {}),
                ...(o.currency ? { reportingCurrency: o.currency } : {}),
                ...(body.symbols ? { symbols: body.symbols } : {}),
                ...(o.audience ? { audience: o.audience } : {}),
                ...(o.nonce ? { nonce: o.nonce } : {}),
                requestedAt,
              }),
            );
          out.valid = out.reasons.length === 0;
          if (!out.valid) {
            if (o.json) printer(true)({ file, ...out });
            fail(
              `the service's result was refused (kept in ${file}):\n  ${out.reasons.join('\n  ')}`,
            );
          }
          printer(o.json)(
            { file, job_id: answer.job_id, ...out },
            `report verified: ${out.summary}; logged at index ${out.index}; saved to ${file} (check it anywhere with cloister verify aggregates ${file})${opening === undefined ? '' : `; the salt that opens its account commitment is in ${openingFile}: give it only to a verifier who should learn the exchange account`}`,
          );
        },
      ),
    ),
    `cloister report --session 40ed7963-0cd6-46d7-9981-137b44ea17cf --from 2026-10-01T00:00:00Z --out result.json ${TRUST_EXAMPLE}`,
    SERVICE_ENV,
  );
}

interface LogOptions extends CommonOptions {
  witness?: string[];
  witnessThreshold?: string;
}

function logOptions(cmd: Command): Command {
  return trustOptions(cmd)
    .option('--witness <vkey>', "a witness's signed-note verifier key (repeatable)", collect)
    .option('--witness-threshold <n>', 'cosignatures required (default: all --witness keys)');
}

/** The log key comes from a verified attestation, never from the log server itself. */
async function logTrust(o: LogOptions): Promise<LogTrust> {
  const v = await attested(o);
  if (!v.signingKeys) fail('attestation refused: no signing keys');
  const witnesses = (o.witness ?? []).map((vkey) => {
    try {
      const k = parseVerifierKey(vkey);
      return { name: k.name, publicKey: bytesToBase64(k.publicKey) };
    } catch {
      return fail(`--witness: not a signed-note verifier key`, 2);
    }
  });
  const threshold =
    o.witnessThreshold === undefined
      ? witnesses.length
      : witnesses.length === 0
        ? fail('--witness-threshold needs at least one --witness', 2)
        : count(o.witnessThreshold, '--witness-threshold', 1, witnesses.length);
  return { logPublicKey: v.signingKeys.log, witnesses, witnessThreshold: threshold };
}

/**
 * `patientMs`: the monitor's client, which waits out a busy service (patientFetch) and gives
 * up on each request after that long, so a stalled host fails the poll instead of silencing it.
 */
async function logClient(o: LogOptions, patientMs?: number): Promise<LogClient> {
  const url = baseUrl(o);
  // A session's entries are its owner's: send the access token when there is one.
  const token = await accessToken(url).catch(() => undefined);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return new LogClient(url, await logTrust(o), (u) =>
    patientMs === undefined ? fetch(u, { headers }) : patientFetch(u, { headers }, patientMs),
  );
}

function addLog(program: Command): void {
  const log = program
    .command('log')
    .description('verify and monitor the transparency log (docs/protocol/transparency-log.md)');
  explain(log, `cloister log verify ${TRUST_EXAMPLE}`, SERVICE_ENV);

  explain(
    logOptions(
      log
        .command('verify')
        .description(
          "verify the signed checkpoint; with --session, that session's entries and their inclusion; with --entries, re-hash every entry (and, with --session, require every entry of the session in its listing)",
        )
        .option('--session <id>', "prove this session's entries")
        .option(
          '--entries',
          're-hash every served entry against the checkpoint (with --session: none of the session left out)',
          false,
        ),
    ).action(
      action(async (o: LogOptions & { session?: string; entries: boolean }) => {
        const client = await logClient(o);
        const print = printer(o.json);
        const checkpoint = await client.checkpoint();
        if (o.entries && !o.session) {
          await client.auditEntries(checkpoint);
          print(
            checkpoint,
            `entries valid: all ${checkpoint.size} re-hash to checkpoint ${checkpoint.origin} root ${checkpoint.rootHash}`,
          );
          return;
        }
        if (!o.session) {
          print(
            checkpoint,
            `checkpoint valid: ${checkpoint.origin} size ${checkpoint.size} root ${checkpoint.rootHash}`,
          );
          return;
        }
        const { entries, checkpoint: cp } = await client.sessionEntries(o.session, {
          complete: o.entries,
        });
        print(
          { checkpoint: cp, entries },
          [
            `${entries.length} entries included in checkpoint ${cp.size}${o.entries ? ' (every entry re-hashed: none of this session left out)' : ''}:`,
            ...entries.map((e) => `  #${e.index} ${e.text}`),
          ].join('\n'),
        );
      }),
    ),
    `cloister log verify --session 40ed7963-0cd6-46d7-9981-137b44ea17cf ${TRUST_EXAMPLE}`,
    SERVICE_ENV,
  );

  explain(
    logOptions(
      log
        .command('monitor')
        .description(
          'watch the log: every new checkpoint must extend the last one seen (exit 3 on a fork or rollback). A busy or unreachable service is waited for (Retry-After, else backoff), not an exit.',
        )
        .option('--state <file>', 'where the last good checkpoint is kept between runs')
        .option('--interval <seconds>', 'poll period', '10')
        .option('--once', 'a single check, then exit', false),
    ).action(
      action(async (o: LogOptions & { state?: string; interval: string; once: boolean }) => {
        const intervalMs = count(o.interval, '--interval', 1, 86400) * 1000;
        // A request of a poll may take the poll's period, at least 5 s and at most 60 s.
        const client = await logClient(o, Math.min(60_000, Math.max(5000, intervalMs)));
        const print = printer(o.json);
        const stateFile = o.state;
        // The state file holds the last good checkpoint and how far its entries were re-hashed.
        const { audit = null, ...last } =
          stateFile && existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};
        const monitor = new LogMonitor(client, 'size' in last ? last : null, audit);
        for (let failures = 0; ;) {
          let report;
          try {
            report = await monitor.poll();
            failures = 0;
          } catch (err) {
            // Network trouble is not evidence of misbehaviour: wait and look again.
            const wait = retryDelayMs(++failures);
            warn(
              `log check failed (${(err as Error).message}); next try in ${Math.round(wait / 1000)} s`,
            );
            await new Promise((r) => setTimeout(r, wait));
            continue;
          }
          if (report.alarm) fail(`LOG ALARM: ${report.alarm}`, 3);
          // Not misbehaviour, but what an operator wants to hear of (a reshare of the cluster).
          for (const notice of report.notices) warn(`notice: ${notice}`);
          if (stateFile && report.checkpoint)
            replaceFile(
              stateFile,
              JSON.stringify({ ...report.checkpoint, audit: monitor.audited }),
              0o644,
            );
          print(
            report.checkpoint,
            `ok: size ${report.checkpoint?.size} root ${report.checkpoint?.rootHash} (checked ${formatDate(new Date())})`,
          );
          if (o.once) return;
          await new Promise((r) => setTimeout(r, intervalMs));
        }
      }),
    ),
    `cloister log monitor --state checkpoint.json --interval 60 ${TRUST_EXAMPLE}`,
    SERVICE_ENV,
  );
}

function addVerify(program: Command): void {
  const verify = program
    .command('verify')
    .description('verify signed results as a third party would');
  explain(verify, `cloister verify aggregates result.json ${TRUST_EXAMPLE}`, URL_ONLY_ENV);
  explain(
    logOptions(
      verify
        .command('aggregates')
        .description(
          'check a signed aggregates result (the JSON of POST /enclave/request_aggregates): signature under the attested results key, log entry and inclusion under a checkpoint signed by the attested log key',
        )
        .argument('<file>', 'the saved result')
        .option(
          '--allow-api-host <host>',
          "accept this exchange API host (repeatable; default: the exchange's production hosts)",
          collect,
        )
        .option('--expect-audience <a>', 'refuse a result not addressed to this audience')
        .option('--expect-nonce <n>', 'refuse a result not carrying this nonce')
        .option('--account-id <id>', "the holder's exchange account id (with --salt)")
        .option('--salt <b64>', "the result's account_opening.salt (with --account-id)"),
    ).action(
      action(
        async (
          file: string,
          o: LogOptions & {
            allowApiHost?: string[];
            expectAudience?: string;
            expectNonce?: string;
            accountId?: string;
            salt?: string;
          },
        ) => {
          const v = await attested(o);
          if (!v.signingKeys) fail('attestation refused: no signing keys');
          const out = await verifyAggregatesFile({
            file,
            url: baseUrl(o),
            expectedMeasurements: o.expectMeasurement ?? [],
            resultsKey: v.signingKeys.results,
            logTrust: await logTrust(o),
            ...(o.allowApiHost ? { allowedApiHosts: o.allowApiHost } : {}),
            ...(o.expectAudience ? { expectedAudience: o.expectAudience } : {}),
            ...(o.expectNonce ? { expectedNonce: o.expectNonce } : {}),
            ...(o.accountId ? { accountId: o.accountId } : {}),
            ...(o.salt ? { salt: o.salt } : {}),
          });
          if (!out.valid) {
            if (o.json) printer(true)(out);
            fail(`aggregates refused:\n  ${out.reasons.join('\n  ')}`);
          }
          const account = o.accountId ? `; account ${o.accountId} opens the commitment` : '';
          printer(o.json)(
            out,
            `aggregates valid: ${out.summary}${account}; logged at index ${out.index} (tree size ${out.tree_size})`,
          );
        },
      ),
    ),
    `cloister verify aggregates result.json --allow-api-host 127.0.0.1:4100 ${TRUST_EXAMPLE}`,
    ['CLOISTER_URL', 'CLOISTER_ACCESS_TOKEN'],
  );
}

function addAuth(program: Command): void {
  const auth = program
    .command('auth')
    .description('accounts and access tokens (docs/protocol/auth.md)');
  explain(
    auth,
    'cloister auth verify "$TOKEN" --jwks http://127.0.0.1:3000/.well-known/jwks.json',
    [],
  );
  explain(
    trustOptions(
      auth
        .command('verify')
        .description(
          'verify an access token against a JWKS (URL or file) with jose; with --expect-measurement, ' +
            "only under keys the service's attested enclave lists",
        )
        .argument('<token>', 'the access token')
        .requiredOption('--jwks <url|file>', 'the JWKS')
        // The service's issuer is its base URL (AUTH_ISSUER's default), so --url's by default.
        .option('--issuer <iss>', 'expected issuer (default: the --url)')
        .option('--audience <aud>', 'expected audience', 'cloister'),
    ).action(
      action(
        async (
          token: string,
          o: CommonOptions & { jwks: string; issuer?: string; audience: string },
        ) => {
          // The JWKS is the host's: with a measurement, its keys must be the attested ones.
          const attested = (o.expectMeasurement?.length ?? 0) > 0;
          if (!attested)
            warn(
              'the JWKS is checked against no attestation: pass --expect-measurement (and --url) unless you trust it by other means',
            );
          const claims = await authVerify({
            token,
            jwks: o.jwks,
            issuer: o.issuer ?? baseUrl(o),
            audience: o.audience,
            ...(attested ? { trust: trustOf(o) } : {}),
          }).catch((err: unknown) => {
            if (err instanceof AuthUsageError) throw err;
            // jose's code and its message, which names the claim ('unexpected "iss" claim value').
            const { code } = err as { code?: string };
            const message = (err as Error).message;
            return fail(`token refused: ${code ? `${code} (${message})` : message}`);
          });
          const exp =
            typeof claims.exp === 'number' ? formatDate(new Date(claims.exp * 1000)) : '?';
          printer(o.json)(claims, `token valid: sub ${String(claims.sub)}, expires ${exp}`);
        },
      ),
    ),
    `cloister auth verify "$TOKEN" --jwks http://127.0.0.1:3000/.well-known/jwks.json ${TRUST_EXAMPLE}`,
    URL_ONLY_ENV,
  );
  for (const name of ['register', 'login'] as const) {
    explain(
      trustOptions(
        (name === 'login' ? secondFactorOptions(auth.command(name)) : auth.command(name))
          .description(
            name === 'register'
              ? 'create an account; the password is encrypted to the attested enclave first'
              : 'log in and print the token pair (cloister login keeps it for you instead)',
          )
          .requiredOption('--email <email>', 'account email'),
      ).action(
        action(
          async (
            o: CommonOptions & { email: string; totpCode?: string; recoveryCode?: string },
          ) => {
            const res = await authAccount(name, {
              email: o.email,
              url: baseUrl(o),
              trust: trustOf(o),
              totpCode: o.totpCode,
              recoveryCode: o.recoveryCode,
            });
            printer(o.json)(
              res,
              name === 'register' ? registrationNextStep(res, o.email) : undefined,
            );
          },
        ),
      ),
      `CLOISTER_PASSWORD=… cloister auth ${name} --email me@example.com ${TRUST_EXAMPLE}`,
      ['CLOISTER_URL', 'CLOISTER_PASSWORD'],
    );
  }
  explain(
    trustOptions(
      auth
        .command('confirm')
        .description(
          'finish a registration the service accepted pending email confirmation: the mailed code and the registration’s password (CLOISTER_PASSWORD, encrypted to the attested enclave)',
        )
        .requiredOption('--email <email>', 'account email')
        .requiredOption('--code <digits>', 'the 6-digit confirmation code from the mail'),
    ).action(
      action(async (o: CommonOptions & { email: string; code: string }) => {
        const res = await authConfirmRegistration({
          email: o.email,
          code: o.code,
          url: baseUrl(o),
          trust: trustOf(o),
        });
        printer(o.json)(
          res,
          `registration confirmed: log in with cloister login --email ${o.email}`,
        );
      }),
    ),
    `CLOISTER_PASSWORD=… cloister auth confirm --email me@example.com --code 123456 ${TRUST_EXAMPLE}`,
    ['CLOISTER_URL', 'CLOISTER_PASSWORD'],
  );
  addAuthMethods(auth);
}

/** The other ways in (docs/protocol/auth.md): SIWE, email codes, linked methods, TOTP, passkeys. */
function addAuthMethods(auth: Command): void {
  type MoreOptions = CommonOptions &
    Omit<AuthMoreOptions, 'url' | 'label'> & { totpLabel?: string };
  const run = async (sub: string, args: string[], o: MoreOptions): Promise<void> => {
    printer(o.json)(await authMore(sub, args, { ...o, url: baseUrl(o), label: o.totpLabel }));
  };
  explain(
    serviceOptions(
      auth
        .command('siwe')
        .description(
          'Sign-In with Ethereum (EIP-4361): sign with a key file, or print the message for an external wallet',
        )
        .option('--key-file <file>', 'hex private key to sign the message with (EIP-191)')
        .option('--print', 'print the message to sign instead of signing it', false)
        .option('--address <0x…>', 'with --print: the address that will sign')
        .option('--message-file <file>', 'a message an external wallet signed')
        .option('--signature <0x…>', 'that wallet’s signature of --message-file')
        .option('--domain <host>', 'the domain the message names (default: the service’s host)')
        .option('--chain-id <id>', 'chain id the message names', '1'),
    )
      .option(
        '--totp-code <digits>',
        'the code from your authenticator app, if the account has TOTP',
      )
      .option('--recovery-code <code>', 'or one of your TOTP recovery codes (used once)')
      .action(action((o: MoreOptions) => run('siwe', [], o))),
    'cloister auth siwe --key-file wallet.key',
    URL_ONLY_ENV,
  );
  explain(
    serviceOptions(
      auth
        .command('otp')
        .description('email one-time codes: start sends a code by mail, verify logs in with it')
        .argument('<step>', 'start | verify')
        .requiredOption('--email <email>', 'account email')
        .option('--code <digits>', 'verify: the 6-digit code from the mail'),
    )
      .option('--totp-code <digits>', 'verify: the authenticator code, if the account has TOTP')
      .option('--recovery-code <code>', 'verify: or one of your TOTP recovery codes (used once)')
      .action(action((step: string, o: MoreOptions) => run('otp', [step], o))),
    'cloister auth otp start --email me@example.com && cloister auth otp verify --email me@example.com --code 123456',
    URL_ONLY_ENV,
  );
  explain(
    trustOptions(
      auth
        .command('methods')
        .description(
          'the account’s login methods: list, unlink one (never the last), or link a password, an email or an Ethereum address (step-up)',
        )
        .argument('[step]', 'list | unlink | link-password | link-email | link-siwe', 'list')
        .argument('[id]', 'unlink: the method id')
        .option('--email <email>', 'link-password: the account email; link-email: the address')
        .option('--code <digits>', 'link-email: the code mailed to the address')
        .option('--key-file <file>', 'link-siwe: hex private key that signs the SIWE message'),
    ).action(
      action(async (step: string, id: string | undefined, o: MoreOptions) => {
        if (!step.startsWith('link-'))
          return run('methods', id === undefined ? [step] : [step, id], o);
        printer(o.json)(await authLink(step, { ...o, url: baseUrl(o), trust: trustOf(o) }));
      }),
    ),
    'cloister auth methods link-email --email me@example.com && cloister auth methods link-email --email me@example.com --code 123456',
    [...SERVICE_ENV, 'CLOISTER_PASSWORD'],
  );
  explain(
    trustOptions(
      auth
        .command('password')
        .description(
          'change the password (step-up; CLOISTER_PASSWORD, encrypted to the attested enclave); every other session ends',
        )
        .argument('<step>', 'change')
        .requiredOption('--email <email>', 'the account email'),
    ).action(
      action(async (step: string, o: MoreOptions) => {
        printer(o.json)(
          await authLink(step === 'change' ? 'change' : 'usage', {
            ...o,
            url: baseUrl(o),
            trust: trustOf(o),
          }),
        );
      }),
    ),
    `CLOISTER_PASSWORD=… cloister auth password change --email me@example.com ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, 'CLOISTER_PASSWORD'],
  );
  explain(
    serviceOptions(
      auth
        .command('totp')
        .description('TOTP second factor (RFC 6238): enroll, confirm, remove, step-up')
        .argument('<step>', 'enroll | confirm | remove | step-up')
        .option('--totp-label <label>', 'enroll: the label authenticator apps show')
        .option('--code <digits>', 'confirm / step-up: a code from the authenticator app')
        .option('--recovery-code <code>', 'step-up: a recovery code instead'),
    ).action(action((step: string, o: MoreOptions) => run('totp', [step], o))),
    'cloister auth totp step-up --code 123456',
    SERVICE_ENV,
  );
  explain(
    trustOptions(
      auth
        .command('recovery')
        .description(
          'account recovery (lost password or device): start, confirm with the mailed code and CLOISTER_PASSWORD, status, cancel, complete after the time-lock',
        )
        .argument('<step>', 'start | confirm | status | cancel | complete')
        .option('--email <email>', 'start / confirm / complete: account email')
        .option('--code <digits>', 'confirm: the 6-digit code from the mail')
        .option(
          '--completion-code <code>',
          'complete: the completion code that confirm printed (a time-locked recovery)',
        ),
    ).action(
      action(async (step: string, o: MoreOptions & { completionCode?: string }) => {
        const trust = trustOf(o);
        const res = await authRecovery(step, {
          email: o.email,
          code: o.code,
          completionCode: o.completionCode,
          url: baseUrl(o),
          trust,
        });
        printer(o.json)(res);
      }),
    ),
    'cloister auth recovery start --email me@example.com',
    ['CLOISTER_URL', 'CLOISTER_ACCESS_TOKEN', 'CLOISTER_PASSWORD', 'XDG_CONFIG_HOME'],
  );
  explain(
    serviceOptions(
      auth
        .command('passkey')
        .description('passkeys need a browser (WebAuthn); `options` prints the login options')
        .argument('[step]', 'options'),
    ).action(
      action((step: string | undefined, o: MoreOptions) =>
        run('passkey', step === undefined ? [] : [step], o),
      ),
    ),
    'cloister auth passkey options',
    URL_ONLY_ENV,
  );
}

function addCluster(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'the cluster keyring: genesis, operator shares, reshare (docs/operations/cluster.md)',
    );
  explain(
    cluster,
    'cloister cluster init --operators ops.json --threshold 2 --out shares/',
    SERVICE_ENV,
  );
  explain(
    trustOptions(
      cluster
        .command('init')
        .description(
          'genesis (operator token): the root split into age-encrypted shares + manifest.json',
        )
        .requiredOption('--operators <file>', 'ops.json: the operators and their age recipients')
        .requiredOption('--threshold <k>', 'shares needed to restore (2..32)')
        .option(
          '--out <dir>',
          'where the shares and manifest.json go (never over existing files)',
          '.',
        ),
    ).action(
      action(async (o: CommonOptions & { operators: string; threshold: string; out: string }) => {
        const r = await clusterInit({
          url: baseUrl(o),
          operatorsFile: o.operators,
          threshold: count(o.threshold, '--threshold', 2, 32),
          outDir: o.out,
          measurements: o.expectMeasurement,
          trustedSimulatedVendorKeys: trustedVendorKeys(trustOf(o)),
        });
        printer(o.json)(
          r,
          `cluster ${r.manifest.cluster_id}: ${r.files.join(', ')} and manifest.json written`,
        );
      }),
    ),
    `cloister cluster init --operators ops.json --threshold 2 --out shares/ ${TRUST_EXAMPLE}`,
    SERVICE_ENV,
  );
  explain(
    cluster
      .command('signing-key')
      .description("an operator's Ed25519 key for approving manifest changes")
      .option('--out <file>', 'where the key goes', 'signing.key')
      .option('--json', 'print JSON instead of text', false)
      .action(
        action((o: { out: string; json: boolean }) => {
          const r = clusterSigningKey(o.out === '.' ? 'signing.key' : o.out);
          printer(o.json)(
            r,
            `signing key written; put this in ops.json as "signing_key": ${r.signing_key}`,
          );
        }),
      ),
    'cloister cluster signing-key --out alice.key',
    [],
  );
  explain(
    cluster
      .command('approve')
      .description('print one operator approval of a proposal (JSON)')
      .requiredOption('--proposal <file>', 'the proposal')
      .requiredOption('--signing-key <file>', "this operator's signing key")
      .requiredOption('--operator <name>', "this operator's name in the manifest")
      .option('--json', 'print JSON (always: an approval is JSON)', true)
      .action(
        action((o: { proposal: string; signingKey: string; operator: string }) => {
          process.stdout.write(
            `${JSON.stringify(clusterApprove({ proposalPath: o.proposal, signingKeyPath: o.signingKey, operator: o.operator }))}\n`,
          );
        }),
      ),
    'cloister cluster approve --proposal proposal.json --signing-key alice.key --operator alice > alice.approval',
    [],
  );
  explain(
    trustOptions(
      cluster
        .command('reshare')
        .description('apply an approved manifest change: a new split of the root, attested')
        .requiredOption('--proposal <file>', 'the proposal')
        .requiredOption('--approval <file>', 'an approval (repeatable)', collect)
        .requiredOption(
          '--manifest <file>',
          'the current manifest.json: the enclave that resplits must be one it admits',
        )
        .option(
          '--out <dir>',
          'where the new shares and manifest.json go (a new directory per epoch)',
          '.',
        ),
    ).action(
      action(
        async (
          o: CommonOptions & {
            proposal: string;
            approval: string[];
            manifest: string;
            out: string;
          },
        ) => {
          const r = await clusterReshare({
            url: baseUrl(o),
            proposalPath: o.proposal,
            approvalPaths: o.approval,
            manifestPath: o.manifest,
            outDir: o.out,
            trustedSimulatedVendorKeys: trustedVendorKeys(trustOf(o)),
          });
          printer(o.json)(
            r,
            `epoch ${r.manifest.epoch}: ${r.files.join(', ')} and manifest.json written`,
          );
        },
      ),
    ),
    'cloister cluster reshare --proposal proposal.json --approval alice.approval --approval bob.approval --manifest shares/manifest.json --out shares-epoch2/ --trust-simulated-key-file vendor.pub',
    SERVICE_ENV,
  );
  explain(
    cluster
      .command('check-share')
      .description(
        'offline: open your .age share and check it against manifest.json (after init or reshare)',
      )
      .requiredOption('--share <file>', 'the .age share')
      .requiredOption('--identity <file>', 'your age identity')
      .requiredOption('--manifest <file>', 'manifest.json of the ceremony')
      .option('--json', 'print JSON instead of text', false)
      .action(
        action(async (o: { share: string; identity: string; manifest: string; json: boolean }) => {
          const r = await clusterCheckShare({
            sharePath: o.share,
            identityPath: o.identity,
            manifestPath: o.manifest,
          });
          printer(o.json)(
            r,
            `share ${r.index} (${r.operator}) is part of epoch ${r.epoch} of cluster ${r.cluster_id}`,
          );
        }),
      ),
    'cloister cluster check-share --share alice.age --identity alice.key --manifest manifest.json',
    [],
  );
  explain(
    trustOptions(
      cluster
        .command('provide-share')
        .description(
          'give one share to an instance awaiting its quorum (its quote is checked against the manifest first)',
        )
        .requiredOption('--share <file>', 'the .age share')
        .requiredOption('--identity <file>', 'your age identity')
        .requiredOption('--manifest <file>', 'manifest.json'),
    ).action(
      action(async (o: CommonOptions & { share: string; identity: string; manifest: string }) => {
        const r = await provideShare({
          url: baseUrl(o),
          sharePath: o.share,
          identityPath: o.identity,
          manifestPath: o.manifest,
          trustedSimulatedVendorKeys: trustedVendorKeys(trustOf(o)),
        });
        printer(o.json)(
          r,
          `share ${r.index} (${r.operator}) accepted: ${r.have} of ${r.threshold}`,
        );
      }),
    ),
    'cloister cluster provide-share --share alice.age --identity alice.key --manifest manifest.json --trust-simulated-key-file vendor.pub',
    SERVICE_ENV,
  );
}

function addWallet(program: Command): void {
  const wallet = program
    .command('wallet')
    .description(
      'wallet custody: 2-of-3 shares, device and recovery files (docs/protocol/wallet-shares.md)',
    );
  explain(wallet, `cloister wallet list ${TRUST_EXAMPLE}`, [
    ...SERVICE_ENV,
    'CLOISTER_DEVICE_PASSPHRASE',
    'CLOISTER_RECOVERY_PASSPHRASE',
  ]);
  const walletCmd = (
    parent: Command,
    name: string,
    description: string,
    example: string,
    env: string[],
    run: (o: WalletOptions) => Promise<number>,
  ) =>
    explain(
      trustOptions(parent.command(name).description(description))
        .option('--wallet <id>', 'the wallet the share file must be of (the file names it)')
        .option('--label <text>', 'wallet label (create)', '')
        .option('--address <addr>', 'the account address to sign with (sign)')
        .option('--request <json|@file>', 'sign: e.g. {"type":"eth_personal_sign","message":"gm"}')
        .option('--rules <json|@file>', 'policy: e.g. [{"type":"max_value_wei","value":"1000"}]')
        .option('--device-file <path>', 'encrypted device share file (0600)')
        .option('--recovery-file <path>', 'encrypted recovery share file (0600)')
        .action(
          action(async (o: WalletOptions) => {
            const code = await run({ ...o, url: baseUrl(o) });
            if (code !== 0) process.exit(code);
          }),
        ),
      example,
      env,
    );
  const dev = 'CLOISTER_DEVICE_PASSPHRASE';
  const rec = 'CLOISTER_RECOVERY_PASSPHRASE';
  const go = (c: string, s?: string) => (o: WalletOptions) => runWallet(c, s, o, accessToken);
  walletCmd(
    wallet,
    'create',
    'create a wallet; its device and recovery shares go to two files',
    `cloister wallet create --label main --device-file device.json --recovery-file recovery.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, dev, rec],
    go('create'),
  );
  walletCmd(
    wallet,
    'list',
    'your wallets and their addresses (verified only with --device-file of the wallet)',
    `cloister wallet list --device-file device.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, dev],
    go('list'),
  );
  walletCmd(
    wallet,
    'sign',
    'sign with the device share and the enclave share',
    `cloister wallet sign --address 0x… --request '{"type":"eth_personal_sign","message":"gm"}' --device-file device.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, dev],
    go('sign'),
  );
  walletCmd(
    wallet,
    'policy',
    "replace the wallet's signing policy",
    `cloister wallet policy --rules '[{"type":"max_value_wei","value":"1000"}]' --device-file device.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, dev],
    go('policy'),
  );
  walletCmd(
    wallet,
    'export',
    'print the mnemonic from the two share files (no service involved)',
    'cloister wallet export --device-file device.json --recovery-file recovery.json',
    ['CLOISTER_URL', dev, rec],
    go('export'),
  );
  const recover = wallet
    .command('recover')
    .description('recover a wallet whose device share is lost: start, cancel, complete');
  explain(recover, `cloister wallet recover start --recovery-file recovery.json ${TRUST_EXAMPLE}`, [
    ...SERVICE_ENV,
    rec,
  ]);
  walletCmd(
    recover,
    'start',
    'start the delayed recovery with the recovery share',
    `cloister wallet recover start --recovery-file recovery.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, rec],
    go('recover', 'start'),
  );
  walletCmd(
    recover,
    'cancel',
    'cancel a pending recovery with the device share',
    `cloister wallet recover cancel --device-file device.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, dev],
    go('recover', 'cancel'),
  );
  walletCmd(
    recover,
    'complete',
    'after the delay: a new split; both files are rewritten',
    `cloister wallet recover complete --recovery-file recovery.json --device-file device.json ${TRUST_EXAMPLE}`,
    [...SERVICE_ENV, dev, rec],
    go('recover', 'complete'),
  );
}
