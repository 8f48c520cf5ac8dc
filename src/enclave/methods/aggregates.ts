/**
 * `aggregates.start` / `aggregates.poll` / `aggregates.cancel`: signed performance aggregates
 * (issue 4; v2 bindings and cancellation, issue 12). The enclave
 * checks the stored credential's binding (as `credential.verify_stored` does), opens it, and in
 * a job of its own fetches the account's fills from the exchange through its egress transport,
 * computes the figures and signs them with the result key. The host only ever sees the signed
 * payload; it cannot feed the enclave fills (TLS to the exchange ends here) nor pick the figures.
 */
import { randomBytes } from 'node:crypto';
import {
  accountCommitment,
  aggregatesDigest,
  aggregatesWindow,
  AGGREGATES_VERSION,
  DAY_MS,
  type AggregatesPayloadV3,
} from '../../protocol/aggregates.js';
import type { Exchange } from '../../protocol/credentials.js';
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';
import { okpThumbprint } from '../../protocol/key-id.js';
import { jcs } from '../../protocol/jcs.js';
import { sessionLogSubject } from '../../protocol/log/entry.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { MAX_FRAME_BYTES } from '../../protocol/rpc/frame.js';
import type { JobProgress, MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { computeAggregatesDaily, ingestedAggregatesDaily } from '../aggregates/daily.js';
import { AggregatesInputError, createIngest, type AggregatesIngest } from '../aggregates/engine.js';
import { signAggregates } from '../aggregates/sign.js';
import { createTradeHistorySource } from '../exchanges/connector.js';
import type { ApiCredentials, Fill } from '../exchanges/types.js';
import { readyKeyring, type EnclaveState, type SignedAggregates } from '../state.js';
import { checkStoredCredential, refuseRevoked } from './verify-stored.js';
import { ENVELOPE_PURPOSES, openStored } from './open-envelope.js';
import { EXCHANGE_TABLE } from '../../protocol/exchange-table.js';

const jobsOf = (state: EnclaveState) => state.jobs;

function baseUrl(state: EnclaveState, exchange: Exchange): string {
  return state.config[EXCHANGE_TABLE[exchange].envVar];
}

export async function aggregatesStart(
  state: EnclaveState,
  params: MethodParams<'aggregates.start'>,
): Promise<MethodResult<'aggregates.start'>> {
  const { credential } = params;
  checkStoredCredential(state, credential);
  const window = aggregatesWindow(
    { from: params.from, to: params.to },
    state.now() * 1000,
    state.config.AGGREGATES_MAX_WINDOW_DAYS,
  );
  if (!window) throw new RpcError('AGGREGATES_WINDOW_INVALID');
  const { from, to } = window;

  // Opened now, so a bad envelope fails the request itself; the plaintext bytes are wiped on
  // return, and only the three fields a signer needs live on, for the job's duration.
  const secrets = await openStored(
    state,
    credential.key_id,
    credential.envelope,
    ENVELOPE_PURPOSES.credential,
    (c): ApiCredentials => {
      if (c.exchange !== credential.exchange) throw new RpcError('BINDING_INVALID');
      // A subject sealed at submission is the only one a result over this key may name.
      if (c.subject !== undefined && c.subject !== params.subject)
        throw new RpcError('CREDENTIAL_SUBJECT_MISMATCH');
      return {
        apiKey: c.apiKey,
        apiSecret: c.apiSecret,
        ...(c.passphrase !== undefined ? { passphrase: c.passphrase } : {}),
      };
    },
  );

  // Cancellation wipes the opened key: the connector and its signers hold this same object.
  const wipe = () => {
    secrets.apiKey = '';
    secrets.apiSecret = '';
    delete secrets.passphrase;
  };
  jobsOf(state).start(params.job_id, async (progress, signal) => {
    signal.addEventListener('abort', wipe, { once: true });
    try {
      return await runJob(state, params, { from, to }, secrets, progress, signal);
    } finally {
      signal.removeEventListener('abort', wipe);
      wipe();
    }
  });
  return { job_id: params.job_id };
}

async function runJob(
  state: EnclaveState,
  params: MethodParams<'aggregates.start'>,
  { from, to }: { from: number; to: number },
  secrets: ApiCredentials,
  progress: (p: JobProgress) => void,
  signal: AbortSignal,
): Promise<SignedAggregates> {
  const { credential } = params;
  signal.throwIfAborted();
  const source = createTradeHistorySource(credential.exchange, {
    baseUrl: baseUrl(state, credential.exchange),
    credentials: secrets,
    transport: state.egress(),
    maxFills: state.config.AGGREGATES_MAX_FILLS,
    signal,
  });
  // Each page's new fills are parsed into the engine's columns as they arrive, so after the
  // last page only the aggregation remains. A fill the engine refuses only drops the ingest:
  // the one-call path below then refuses it as it always did (same error, same inputs).
  const ingest = refusalAsNone(() => createIngest({ from, to }));
  try {
    return await listAndSign(state, params, { from, to }, source, ingest, progress, signal);
  } finally {
    // However the job ends (a refused page, a failed or cancelled listing, a refusal of the
    // figures), its ingest gives back the work buffers it holds (engine.ts, `release`).
    ingest?.release();
  }
}

async function listAndSign(
  state: EnclaveState,
  params: MethodParams<'aggregates.start'>,
  { from, to }: { from: number; to: number },
  source: ReturnType<typeof createTradeHistorySource>,
  ingest: AggregatesIngest | undefined,
  progress: (p: JobProgress) => void,
  signal: AbortSignal,
): Promise<SignedAggregates> {
  const { credential } = params;
  let feeding = ingest;
  const onFills = (page: readonly Fill[]) => {
    const into = feeding;
    if (into) feeding = refusalAsNone(() => (into.add(page), into));
    // Refused: its work buffers back now, not when the listing ends.
    if (into && !feeding) into.release();
  };
  // The cancel flag is checked between pages (every page reports progress) as well as by
  // every request the connector sends (the signal).
  const listing = await source.listFills(
    { from, to, ...(params.symbols ? { symbols: params.symbols } : {}) },
    (p) => {
      signal.throwIfAborted();
      refuseRevoked(state, credential.session_id);
      progress(p);
    },
    onFills,
  );
  signal.throwIfAborted();
  progress({
    requests: listing.requests,
    fills: listing.fills.length,
    rate_limit_waits: listing.rateLimitWaits,
    rate_limit_wait_ms: listing.rateLimitWaitMs,
  });
  // The window rule again, on the exchange's clock (its `Date` when the listing began, read over
  // TLS): the enclave's own clock is the host's to set, and a window ending after the
  // exchange's time claims fills nobody could have listed yet (a record signed today "up to"
  // next month, the month's later fills missing). An answer without a date proves no time.
  if (listing.exchangeTime === undefined) throw new RpcError('EXCHANGE_BAD_RESPONSE');
  const onExchangeClock = aggregatesWindow(
    { from: params.from, to: params.to },
    listing.exchangeTime,
    state.config.AGGREGATES_MAX_WINDOW_DAYS,
  );
  if (!onExchangeClock) throw new RpcError('AGGREGATES_WINDOW_INVALID');
  // v2 names the exchange account: a connector that could not read its id fails the job.
  if (listing.accountId === undefined) throw new RpcError('EXCHANGE_BAD_RESPONSE');
  // Without an explicit `from`, the window starts at the UTC day of the first fill found.
  let first = to;
  for (const f of listing.fills) if (f.timestamp < first) first = f.timestamp;
  // The signed window is what was covered: an exchange that keeps less history than asked
  // for (OKX: 3 months) moves `from` up, so the payload never claims more than it saw.
  // Without an explicit `from`, the window starts on the UTC day of the first fill, but
  // never before the scan did (older fills of that day were not fetched).
  let windowFrom = params.from ?? Math.max(from, Math.floor(first / DAY_MS) * DAY_MS);
  if (listing.coveredFrom !== undefined) windowFrom = Math.max(windowFrom, listing.coveredFrom);
  let figures;
  try {
    const opts = { from: windowFrom, to, reportingCurrency: params.reporting_currency };
    figures =
      (feeding && ingestedAggregatesDaily(feeding, opts)) ??
      computeAggregatesDaily(listing.fills, opts);
  } catch (err) {
    // A fill the engine refuses came from the exchange's answer (the connector validated its shape).
    if (err instanceof AggregatesInputError) throw new RpcError('EXCHANGE_BAD_RESPONSE');
    throw err;
  }
  const keyring = readyKeyring(state);
  const salt = new Uint8Array(randomBytes(32));
  const payload: AggregatesPayloadV3 = {
    version: AGGREGATES_VERSION,
    ...figures,
    exchange: credential.exchange,
    api_host: listing.apiHost,
    session: sessionLogSubject(credential.session_id),
    symbols_scanned: listing.symbols,
    computed_at: new Date(state.now() * 1000).toISOString(),
    responses_digest: listing.responsesDigest,
    measurement: state.platform.measurement,
    key_id: okpThumbprint('Ed25519', base64ToBytes(keyring.publicKeys().signing_keys.results)),
    account_commitment: accountCommitment(salt, credential.exchange, listing.accountId),
    subject: params.subject,
    audience: params.audience,
    nonce: params.nonce,
    symbols_complete: listing.symbolsComplete,
  };
  // Last check before signing: a job cancelled, or whose session was revoked, during the
  // computation is never signed.
  signal.throwIfAborted();
  refuseRevoked(state, credential.session_id);
  const signed = signAggregates(payload, keyring.resultSigningKey());
  return {
    payload_jcs: jcs(signed.payload),
    signature: signed.signature,
    payload_digest: aggregatesDigest(signed.payload),
    signed_at: state.now(),
    account_salt: bytesToBase64(salt),
  };
}

/** What `make` returns, or nothing when the engine refuses its input (a fill, the window). */
function refusalAsNone<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch (err) {
    if (err instanceof AggregatesInputError) return undefined;
    throw err;
  }
}

/**
 * The finished results one poll answer carries at most, in bytes of their JSON (the first is
 * always carried): half a frame, so the answer fits one beside the frame's other results.
 */
export const POLL_RESULT_BYTES = MAX_FRAME_BYTES / 2;

/**
 * Progress and results of `job_ids`, after forgetting the acknowledged ones. Finished results
 * past POLL_RESULT_BYTES show as still running: they wait in the table until a later poll, once
 * the host acknowledged those it was given. Every result at once made the answer grow with the
 * results left uncollected (the host could not store them for a while) until no poll could be
 * sent any more, and none was ever collected.
 */
export function aggregatesPoll(
  state: EnclaveState,
  params: MethodParams<'aggregates.poll'>,
): MethodResult<'aggregates.poll'> {
  const jobs = jobsOf(state);
  jobs.ack(params.ack);
  let bytes = 0;
  const views = jobs.poll(params.job_ids).map((view) => {
    if (view.state !== 'done') return view;
    const size = JSON.stringify(view.result).length;
    if (bytes > 0 && bytes + size > POLL_RESULT_BYTES)
      return { job_id: view.job_id, state: 'running' as const, progress: view.progress };
    bytes += size;
    return view;
  });
  return { jobs: views };
}

export function aggregatesCancel(
  state: EnclaveState,
  params: MethodParams<'aggregates.cancel'>,
): MethodResult<'aggregates.cancel'> {
  return { cancelled: jobsOf(state).cancel(params.job_ids) };
}
