/**
 * `aggregates.start` / `aggregates.poll`: signed performance aggregates (issue 4). The enclave
 * checks the stored credential's binding (as `credential.verify_stored` does), opens it, and in
 * a job of its own fetches the account's fills from the exchange through its egress transport,
 * computes the figures and signs them with the result key. The host only ever sees the signed
 * payload; it cannot feed the enclave fills (TLS to the exchange ends here) nor pick the figures.
 */
import {
  aggregatesDigest,
  AGGREGATES_VERSION,
  type AggregatesPayload,
} from '../../protocol/aggregates.js';
import type { Exchange } from '../../protocol/credentials.js';
import { base64ToBytes } from '../../protocol/encoding.js';
import { okpThumbprint } from '../../protocol/key-id.js';
import { jcs } from '../../protocol/jcs.js';
import { sessionLogSubject } from '../../protocol/log/entry.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import { AggregatesInputError, computeAggregates } from '../aggregates/engine.js';
import { signAggregates } from '../aggregates/sign.js';
import { createTradeHistorySource } from '../exchanges/connector.js';
import type { ApiCredentials } from '../exchanges/types.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import { checkStoredCredential } from './verify-stored.js';
import { ENVELOPE_PURPOSES, openStored } from './open-envelope.js';
import { EXCHANGE_TABLE } from '../../protocol/exchange-table.js';

const DAY_MS = 86_400_000;

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
  const nowMs = state.now() * 1000;
  const maxMs = state.config.AGGREGATES_MAX_WINDOW_DAYS * DAY_MS;
  const to = params.to;
  const from = params.from ?? to - maxMs;
  if (from >= to || to - from > maxMs || to > nowMs + 60_000)
    throw new RpcError('AGGREGATES_WINDOW_INVALID');

  // Opened now, so a bad envelope fails the request itself; the plaintext bytes are wiped on
  // return, and only the three fields a signer needs live on, for the job's duration.
  const secrets = await openStored(
    state,
    credential.key_id,
    credential.envelope,
    ENVELOPE_PURPOSES.credential,
    (c): ApiCredentials => {
      if (c.exchange !== credential.exchange) throw new RpcError('BINDING_INVALID');
      return {
        apiKey: c.apiKey,
        apiSecret: c.apiSecret,
        ...(c.passphrase !== undefined ? { passphrase: c.passphrase } : {}),
      };
    },
  );

  jobsOf(state).start(params.job_id, async (progress) => {
    const source = createTradeHistorySource(credential.exchange, {
      baseUrl: baseUrl(state, credential.exchange),
      credentials: secrets,
      transport: state.egress(),
      maxFills: state.config.AGGREGATES_MAX_FILLS,
    });
    const listing = await source.listFills(
      { from, to, ...(params.symbols ? { symbols: params.symbols } : {}) },
      progress,
    );
    progress({ requests: listing.requests, fills: listing.fills.length });
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
      figures = computeAggregates(listing.fills, {
        from: windowFrom,
        to,
        reportingCurrency: params.reporting_currency,
      });
    } catch (err) {
      // A fill the engine refuses came from the exchange's answer (the connector validated its shape).
      if (err instanceof AggregatesInputError) throw new RpcError('EXCHANGE_BAD_RESPONSE');
      throw err;
    }
    const keyring = readyKeyring(state);
    const payload: AggregatesPayload = {
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
    };
    const signed = signAggregates(payload, keyring.resultSigningKey());
    return {
      payload_jcs: jcs(signed.payload),
      signature: signed.signature,
      payload_digest: aggregatesDigest(signed.payload),
      signed_at: state.now(),
    };
  });
  return { job_id: params.job_id };
}

export function aggregatesPoll(
  state: EnclaveState,
  params: MethodParams<'aggregates.poll'>,
): MethodResult<'aggregates.poll'> {
  const jobs = jobsOf(state);
  jobs.ack(params.ack);
  return { jobs: jobs.poll(params.job_ids) };
}
