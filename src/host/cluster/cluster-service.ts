/**
 * The cluster on the host (docs/protocol/cluster.md, docs/operations/cluster.md). The host only
 * stores and relays: the manifest and wrapped keyrings in the database, this machine's
 * platform-sealed copy of the root in DATA_DIR, age-encrypted share files handed to the
 * operator who ran genesis, HPKE-sealed share submissions handed to the enclave.
 *
 * Enclave start (the first ready hook): no manifest → single machine, nothing to do; a manifest
 * and a local root → `cluster.unlock`; a manifest and no local root → `awaiting_quorum` until
 * the operators' shares combine, and only then do the other ready hooks run.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { sha256 } from '../../protocol/sha256.js';
import {
  ForwardSchema,
  type Forward,
  type ProvisioningQuote,
  type ShareSubmission,
} from '../../protocol/cluster/cluster.js';
import { bytesToHex } from '../../protocol/encoding.js';
import type { LogEntry } from '../../protocol/log/entry.js';
import type {
  MethodName,
  MethodParams,
  MethodResult,
  SealPolicy,
} from '../../protocol/rpc/methods.js';
import type { Db } from '../db/database.js';
import type { ClusterRepository } from '../db/repositories/cluster.js';
import { HostError, fromRpcCode } from '../errors.js';
import type { LogService } from '../log/log-service.js';
import type { OpsLog } from '../ops-events.js';

type Call = <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;

const now = () => Math.floor(Date.now() / 1000);

export function createClusterService(deps: {
  db: Pick<Db, 'transaction'>;
  repo: ClusterRepository;
  ops: OpsLog;
  logger: Logger;
  dataDir: string;
  sealingPolicy: SealPolicy;
  /** CLUSTER_JOIN: a member to ask for the root instead of waiting for shares. */
  joinUrl?: string | undefined;
  /** CLUSTER_ADVERTISE_URL: recorded once ready, for instances that discover members. */
  advertiseUrl?: string | undefined;
}) {
  const { repo, ops, logger } = deps;
  const localRootPath = join(deps.dataDir, 'cluster', 'local-root.sealed');
  let lockedCall: Call | null = null;
  let lockedListeners: (() => void)[] = [];
  let quorumDone: ((localRoot: string) => void) | null = null;
  /** Log entries of the restore, appended once the log runs again (it needs the keyring). */
  let pendingEntries: LogEntry[] = [];

  function readLocalRoot(): string | null {
    try {
      return readFileSync(localRootPath, 'utf8').trim();
    } catch {
      return null;
    }
  }
  function writeLocalRoot(sealed: string): void {
    mkdirSync(join(deps.dataDir, 'cluster'), { recursive: true, mode: 0o700 });
    writeFileSync(localRootPath, `${sealed}\n`, { mode: 0o600 });
  }

  async function unlock(call: Call, localRoot: string): Promise<void> {
    const latest = await repo.latestManifest();
    const carry = await repo.latestWrapped('carry');
    if (!latest || !carry) throw new Error('cluster manifest or carried keys missing');
    await call('cluster.unlock', {
      local_root: localRoot,
      manifest: latest.manifest,
      manifest_mac: latest.mac,
      carry,
    });
  }

  /**
   * Join (newcomer side): our provisioning quote to the member, its answer to our enclave;
   * retried with backoff until it works or the operators' shares get there first.
   */
  async function joinLoop(call: Call, candidates: () => Promise<string[]>): Promise<void> {
    let delayMs = 500;
    let attempt = 0;
    while (lockedCall === call) {
      try {
        const urls = await candidates();
        const url = urls[attempt++ % Math.max(1, urls.length)];
        if (!url) {
          // Nobody to ask yet (no member recorded): wait for shares or a member, quietly.
          await new Promise((r) => setTimeout(r, delayMs));
          delayMs = Math.min(delayMs * 2, 30_000);
          continue;
        }
        const quote = await call('cluster.quote', {
          nonce: randomBytes(32).toString('base64url'),
          join: true,
        });
        const res = await fetch(`${url.replace(/\/+$/, '')}/cluster/join`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ quote }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { error?: { code?: string } };
        if (!res.ok) throw new Error(body.error?.code ?? `HTTP ${res.status}`);
        const forward = ForwardSchema.parse(body);
        const r = await call('cluster.accept_forward', {
          forward,
          quote_report_data: quote.report_data,
        });
        pendingEntries.push({
          v: 1,
          type: 'cluster.restored',
          subject: quote.cluster_id,
          time: now(),
          digests: { payload: quote.manifest_digest },
        });
        quorumDone?.(r.local_root);
        return;
      } catch (err) {
        if (lockedCall !== call) return;
        logger.warn(
          {
            event: 'cluster.join_failed',
            reason: err instanceof Error ? err.message.slice(0, 80) : 'error',
            retryMs: delayMs,
          },
          'joining the cluster failed; retrying',
        );
        await new Promise((r) => setTimeout(r, delayMs));
        delayMs = Math.min(delayMs * 2, 30_000);
      }
    }
  }

  return {
    /**
     * Join (member side): our enclave checks the newcomer's quote against the manifest and
     * answers; either way the outcome is an ops event and a log entry.
     */
    async forward(
      enclave: { call: Call },
      log: Pick<LogService, 'commit'>,
      body: { quote: ProvisioningQuote; collateral?: unknown },
    ) {
      const subject = body.quote.cluster_id;
      const payload = bytesToHex(sha256(Buffer.from(body.quote.report_data, 'hex')));
      let outcome: { ok: true; forward: Forward } | { ok: false; code: string };
      try {
        outcome = { ok: true, forward: await enclave.call('cluster.forward', body) };
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Only a verdict is logged; an enclave that is down or busy is just an error.
        if (code !== 'CLUSTER_PEER_REFUSED') throw err;
        outcome = { ok: false, code };
      }
      await log.commit({
        async work(tx) {
          await ops.record(
            tx,
            outcome.ok
              ? {
                  type: 'cluster.member_joined',
                  clusterId: subject,
                  measurement: body.quote.image_hash,
                }
              : {
                  type: 'cluster.join_refused',
                  clusterId: subject,
                  measurement: body.quote.image_hash,
                  code: outcome.code,
                },
          );
          const entry: LogEntry = {
            v: 1,
            type: outcome.ok ? 'cluster.member_joined' : 'cluster.join_refused',
            subject,
            time: now(),
            digests: { payload },
          };
          return { result: undefined, entries: [entry] };
        },
      });
      if (!outcome.ok) throw fromRpcCode(outcome.code);
      return outcome.forward;
    },

    /** Enclave ready hook: record CLUSTER_ADVERTISE_URL for discovery (when set). */
    async advertise(call: Call): Promise<void> {
      if (!deps.advertiseUrl) return;
      const status = await call('enclave.status', {});
      if (status.phase === 'ready') await repo.recordMember(deps.advertiseUrl, status.measurement);
    },

    /** The members recorded in the shared database (operator route). */
    members: () => repo.members(),

    /** While awaiting the quorum: secret routes answer 503 CLUSTER_LOCKED. */
    isLocked: () => lockedCall !== null,
    /** Resolves when the enclave waits for its quorum (service start must not wait for it). */
    whenLocked(): Promise<void> {
      return new Promise((r) => {
        if (lockedCall) r();
        else lockedListeners.push(r);
      });
    },

    /** Enclave ready hook, registered first. */
    async initEnclave(call: Call): Promise<void> {
      const status = await call('enclave.status', {});
      if (status.phase === 'ready') return;
      const latest = await repo.latestManifest();
      if (!latest) return;
      const local = readLocalRoot();
      if (local) {
        await unlock(call, local);
        return;
      }
      await call('cluster.await_quorum', {
        manifest: latest.manifest,
        manifest_mac: latest.mac,
        policy: deps.sealingPolicy,
      });
      logger.warn(
        { event: 'cluster.awaiting_quorum', cluster_id: latest.manifest.cluster_id },
        'no local copy of the cluster root: waiting for the operators’ shares',
      );
      let watch: NodeJS.Timeout | undefined;
      const localRoot = await new Promise<string>((resolve, reject) => {
        quorumDone = resolve;
        lockedCall = call;
        for (const l of lockedListeners) l();
        lockedListeners = [];
        // CLUSTER_JOIN, or else the members recorded in the shared database (not ourselves).
        const joinUrl = deps.joinUrl;
        if (joinUrl) void joinLoop(call, async () => [joinUrl]);
        else
          void joinLoop(call, async () =>
            (await repo.members()).map((m) => m.url).filter((u) => u !== deps.advertiseUrl),
          );
        // The supervisor's start waits on this hook: if the enclave dies meanwhile, fail the
        // start so that it restarts the enclave (which then awaits its quorum again).
        watch = setInterval(() => {
          call('enclave.status', {}).then(
            (s) => {
              if (s.phase !== 'awaiting_quorum' && s.phase !== 'awaiting_keyring')
                reject(new Error('enclave left awaiting_quorum'));
            },
            (err: unknown) => reject(err instanceof Error ? err : new Error('enclave lost')),
          );
        }, 1000);
      }).finally(() => {
        clearInterval(watch);
        if (lockedCall === call) lockedCall = null;
        quorumDone = null;
      });
      writeLocalRoot(localRoot);
      await unlock(call, localRoot);
      pendingEntries.push({
        v: 1,
        type: 'cluster.restored',
        subject: latest.manifest.cluster_id,
        time: now(),
        digests: { payload: latest.digest },
      });
    },

    /**
     * Once the log runs: append what happened while it could not. A started hook of the
     * supervisor (`onStarted`), not a ready hook: the append goes through enclave calls, which
     * are refused until the ready hooks are done. Entries that could not be stored are kept: the
     * hook then fails the enclave start, which the supervisor retries, so the instance is never
     * ready with a restore whose entries are not in the log (fail closed).
     */
    async flushLog(log: Pick<LogService, 'commit'>): Promise<void> {
      if (pendingEntries.length === 0) return;
      const entries = pendingEntries;
      pendingEntries = [];
      try {
        await log.commit({ work: async () => ({ result: undefined, entries }) });
      } catch (err) {
        pendingEntries = [...entries, ...pendingEntries];
        throw err;
      }
    },

    async quote(nonce?: string) {
      if (!lockedCall) throw new HostError('CLUSTER_LOCKED');
      return lockedCall('cluster.quote', { nonce: nonce ?? randomBytes(32).toString('base64url') });
    },

    async manifest() {
      return repo.latestManifest();
    },

    async submitShare(sub: ShareSubmission) {
      const call = lockedCall;
      if (!call) throw new HostError('CLUSTER_NOT_LOCKED');
      const r = await call('cluster.submit_share', sub);
      const latest = await repo.latestManifest();
      await deps.db.transaction((tx) =>
        ops.record(tx, {
          type: 'cluster.share_accepted',
          clusterId: latest?.manifest.cluster_id ?? '',
          index: r.index,
          operator: r.operator,
        }),
      );
      pendingEntries.push({
        v: 1,
        type: 'cluster.share_accepted',
        subject: latest?.manifest.cluster_id ?? 'unknown',
        time: now(),
        digests: latest ? { payload: latest.manifest.share_digests[r.index - 1] } : undefined,
      });
      if (r.local_root) quorumDone?.(r.local_root);
      return { index: r.index, operator: r.operator, have: r.have, threshold: r.threshold };
    },

    /** Reshare (any manifest change): the enclave checks the approvals and splits again. */
    async reshare(
      enclave: { call: Call; restart(): void },
      log: Pick<LogService, 'commit'>,
      params: MethodParams<'cluster.reshare'>,
    ) {
      const r = await enclave.call('cluster.reshare', params);
      try {
        await log.commit({
          async work(tx) {
            await repo.insertManifest(r.manifest, r.manifest_digest, r.manifest_mac, tx);
            await ops.record(tx, {
              type: 'cluster.manifest_changed',
              clusterId: r.manifest.cluster_id,
              epoch: r.manifest.epoch,
              manifestDigest: r.manifest_digest,
            });
            const entry: LogEntry = {
              v: 1,
              type: 'cluster.manifest_changed',
              subject: r.manifest.cluster_id,
              time: now(),
              digests: { payload: r.manifest_digest },
            };
            return { result: undefined, entries: [entry] };
          },
        });
        writeLocalRoot(r.local_root);
      } catch (err) {
        // Not stored: the enclave must drop the manifest it moved to.
        enclave.restart();
        throw err;
      }
      return {
        manifest: r.manifest,
        manifest_digest: r.manifest_digest,
        attestation: r.attestation,
        shares: r.shares,
      };
    },

    /**
     * Genesis: the enclave makes the root and the shares; the manifest, the wrapped keyrings and
     * the `cluster.genesis` log entry land in one transaction; then the local root is written.
     */
    async genesis(
      enclave: { call: Call; restart(): void },
      log: Pick<LogService, 'commit'>,
      params: MethodParams<'cluster.genesis'>,
    ) {
      if (await repo.latestManifest()) throw new HostError('CLUSTER_EXISTS');
      const g = await enclave.call('cluster.genesis', params);
      try {
        await log.commit({
          async work(tx) {
            await repo.insertManifest(g.manifest, g.manifest_digest, g.manifest_mac, tx);
            await repo.insertWrapped(
              'credential',
              g.wrapped.credential.generation,
              g.wrapped.credential.sealed,
              tx,
            );
            await repo.insertWrapped('auth', g.wrapped.auth.generation, g.wrapped.auth.sealed, tx);
            if (g.wrapped.wallet)
              await repo.insertWrapped(
                'wallet',
                g.wrapped.wallet.generation,
                g.wrapped.wallet.sealed,
                tx,
              );
            await repo.insertWrapped('carry', 1, g.wrapped.carry, tx);
            await ops.record(tx, {
              type: 'cluster.genesis',
              clusterId: g.manifest.cluster_id,
              manifestDigest: g.manifest_digest,
              threshold: g.manifest.threshold,
              operators: g.manifest.operators.length,
            });
            const entry: LogEntry = {
              v: 1,
              type: 'cluster.genesis',
              subject: g.manifest.cluster_id,
              time: now(),
              digests: { payload: g.manifest_digest },
            };
            return { result: undefined, entries: [entry] };
          },
        });
        writeLocalRoot(g.local_root);
      } catch (err) {
        // Not stored: the enclave must not keep wrapping under a root nobody can recover.
        enclave.restart();
        throw err;
      }
      return {
        manifest: g.manifest,
        manifest_digest: g.manifest_digest,
        attestation: g.attestation,
        shares: g.shares,
      };
    },
  };
}
export type ClusterService = ReturnType<typeof createClusterService>;
