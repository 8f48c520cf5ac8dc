/**
 * Wallet custody use cases on the host (docs/protocol/wallet-shares.md, "Service wiring"). The
 * host is untrusted here too: it loads the owner's row, hands the enclave the stored record and
 * the raw request body (share envelope included), and writes back exactly what the enclave
 * returned, in the same transaction as the operation's transparency-log entry. A row that moved
 * on meanwhile is not overwritten (WALLET_CONFLICT), so nothing is half-written.
 */
import { randomUUID } from 'node:crypto';
import { sha256 } from '../../protocol/sha256.js';
import { bytesToHex } from '../../protocol/encoding.js';
import { jcsBytes } from '../../protocol/jcs.js';
import { walletLogSubject, type LogEntry, type LogEntryType } from '../../protocol/log/entry.js';
import type { MethodName, MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import type { WalletRecord } from '../../protocol/rpc/wallet-methods.js';
import type { WalletRepository } from '../db/repositories/wallets.js';
import { HostError } from '../errors.js';
import type { LogService } from '../log/log-service.js';
import type { StoredCheckpoint } from '../log/log-store.js';

type Call = <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;
type Body = Record<string, unknown>;

export interface WalletServiceDeps {
  enclave: { call: Call };
  repo: WalletRepository;
  log: Pick<LogService, 'commit' | 'isReady'>;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Wallets one user holds at most (not counting deleted ones), as many as GET /wallets lists:
 * each is a row, enclave work and a public log entry, and an access token alone creates one.
 */
export const WALLET_MAX_PER_USER = 1000;

/**
 * What GET /wallets/:id shows: public data only. `share_digests` and `accounts_signature`
 * (null on a wallet not split since they were kept) let the client check the accounts against
 * its own share (`verifyAccounts`).
 */
export function walletView(label: string, r: WalletRecord, accountsSignature: string | null) {
  return {
    wallet_id: r.wallet_id,
    label,
    generation: r.generation,
    accounts: r.accounts,
    policy: { rules: r.rules },
    recovery:
      r.recovery === null
        ? null
        : { started_at: r.recovery.started_at, unlock_at: r.recovery.unlock_at },
    share_digests: r.share_digests ?? null,
    accounts_signature: accountsSignature,
  };
}

/** The public receipt of a logged operation: its leaf index and the checkpoint covering it. */
function receipt(indexes: number[], checkpoint: StoredCheckpoint) {
  return { index: indexes[0]!, tree_size: checkpoint.size, root_hash: checkpoint.rootHash };
}

function recordDigest(r: WalletRecord): string {
  return bytesToHex(sha256(jcsBytes(r)));
}

function entry(
  type: LogEntryType,
  record: WalletRecord,
  extra: Partial<NonNullable<LogEntry['wallet']>> = {},
  payload = recordDigest(record),
): LogEntry {
  return {
    v: 1,
    type,
    subject: walletLogSubject(record.wallet_id),
    time: nowSeconds(),
    digests: { payload },
    wallet: { generation: record.generation, ...extra },
  };
}

const utcDay = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);

export function createWalletService(deps: WalletServiceDeps) {
  const { enclave, repo, log } = deps;

  async function load(userId: string, walletId: string) {
    const w = await repo.find(userId, walletId);
    if (!w) throw new HostError('WALLET_NOT_FOUND');
    return w;
  }

  /** For operations that log: checked first, so a share is not spent on an unloggable request. */
  async function loadForLogged(userId: string, walletId: string) {
    const w = await load(userId, walletId);
    if (!log.isReady()) throw new HostError('LOG_UNAVAILABLE');
    return w;
  }

  /** Writes the enclave's next record and its log entry together, or nothing. */
  async function commitRecord(
    prev: WalletRecord,
    next: WalletRecord,
    e: LogEntry,
    accountsSignature?: string,
  ) {
    const logged = await log.commit({
      async work(tx) {
        if (!(await repo.update(tx, prev.version, next, accountsSignature)))
          throw new HostError('WALLET_CONFLICT');
        return { result: undefined, entries: [e] };
      },
    });
    return receipt(logged.indexes, logged.checkpoint);
  }

  return {
    /** Enclave ready hook: hand back the sealed wallet keyring, or store the first one. */
    async initEnclave(call: Call): Promise<void> {
      const latest = await repo.latestKeyring();
      const r = await call('wallet.init', { sealed: latest?.sealed ?? null });
      if (r.sealed !== null) await repo.insertKeyring(r.generation, r.sealed);
    },

    async create(userId: string, label: string, replyPub: string) {
      if (!log.isReady()) throw new HostError('LOG_UNAVAILABLE');
      // Before the enclave's work; checked again under a lock where the row is inserted.
      if ((await repo.count(userId)) >= WALLET_MAX_PER_USER)
        throw new HostError('WALLET_REQUEST_INVALID');
      const walletId = randomUUID();
      const r = await enclave.call('wallet.create', {
        user_id: userId,
        wallet_id: walletId,
        reply_pub: replyPub,
      });
      const logged = await log.commit({
        async work(tx) {
          if (!(await repo.insert(tx, label, r.record, WALLET_MAX_PER_USER, r.accounts_signature)))
            throw new HostError('WALLET_REQUEST_INVALID');
          return { result: undefined, entries: [entry('wallet.created', r.record)] };
        },
      });
      return {
        wallet_id: walletId,
        generation: r.record.generation,
        accounts: r.record.accounts,
        shares: r.shares,
        split_signature: r.split_signature,
        accounts_signature: r.accounts_signature,
        log: receipt(logged.indexes, logged.checkpoint),
      };
    },

    async list(userId: string) {
      return (await repo.list(userId)).map((w) =>
        walletView(w.label, w.record, w.accountsSignature),
      );
    },

    async get(userId: string, walletId: string) {
      const w = await load(userId, walletId);
      return walletView(w.label, w.record, w.accountsSignature);
    },

    async addAccount(userId: string, walletId: string, body: Body) {
      const w = await load(userId, walletId);
      const r = await enclave.call('wallet.add_account', { record: w.record, body });
      if (r.record.version !== w.record.version) {
        // A new account changes no key and is not a log event; the row just gains it.
        if (!(await repo.update(null, w.record.version, r.record, r.accounts_signature)))
          throw new HostError('WALLET_CONFLICT');
      }
      // The signature over the whole list with it (absent for a wallet without share digests).
      return { ...r.account, accounts_signature: r.accounts_signature ?? w.accountsSignature };
    },

    async sign(userId: string, walletId: string, body: Body) {
      const w = await loadForLogged(userId, walletId);
      const spend = await repo.spend(walletId, utcDay(nowSeconds()));
      const r = await enclave.call('wallet.sign', { record: w.record, body, spend });
      const extra = { address: r.address, verdict: r.verdict } as const;
      if (r.verdict === 'denied') {
        await log.commit({
          async work() {
            const e = entry(
              'wallet.signed',
              w.record,
              { ...extra, rule: r.rule.type },
              r.request_digest,
            );
            return { result: undefined, entries: [e] };
          },
        });
        throw new HostError('POLICY_DENIED', [
          { path: `rules.${r.rule.index}`, issue: r.rule.type },
        ]);
      }
      const logged = await log.commit({
        async work(tx) {
          // The counter and the entry commit together: a logged signature is always counted.
          await repo.saveSpend(tx, r.spend);
          return {
            result: undefined,
            entries: [entry('wallet.signed', w.record, extra, r.request_digest)],
          };
        },
      });
      return { ...r.result, log: receipt(logged.indexes, logged.checkpoint) };
    },

    async setPolicy(userId: string, walletId: string, body: Body) {
      const w = await loadForLogged(userId, walletId);
      const r = await enclave.call('wallet.set_policy', { record: w.record, body });
      const log = await commitRecord(w.record, r.record, entry('wallet.policy_set', r.record));
      return { ...walletView(w.label, r.record, w.accountsSignature), log };
    },

    async startRecovery(userId: string, walletId: string, body: Body) {
      const w = await loadForLogged(userId, walletId);
      const r = await enclave.call('wallet.recovery_start', { record: w.record, body });
      const log = await commitRecord(
        w.record,
        r.record,
        entry('wallet.recovery_started', r.record),
      );
      return { ...walletView(w.label, r.record, w.accountsSignature), log };
    },

    async cancelRecovery(userId: string, walletId: string, body: Body) {
      const w = await loadForLogged(userId, walletId);
      const r = await enclave.call('wallet.recovery_cancel', { record: w.record, body });
      const log = await commitRecord(
        w.record,
        r.record,
        entry('wallet.recovery_cancelled', r.record),
      );
      return { ...walletView(w.label, r.record, w.accountsSignature), log };
    },

    async resplit(
      userId: string,
      walletId: string,
      body: Body,
      mode: 'recovery_complete' | 'reshare',
    ) {
      const w = await loadForLogged(userId, walletId);
      const r = await enclave.call('wallet.resplit', { record: w.record, body, mode });
      const type = mode === 'reshare' ? 'wallet.reshared' : 'wallet.recovered';
      const log = await commitRecord(
        w.record,
        r.record,
        entry(type, r.record),
        r.accounts_signature,
      );
      return {
        wallet_id: walletId,
        generation: r.record.generation,
        accounts: r.record.accounts,
        shares: r.shares,
        split_signature: r.split_signature,
        accounts_signature: r.accounts_signature,
        log,
      };
    },

    async remove(userId: string, walletId: string, body: Body) {
      const w = await loadForLogged(userId, walletId);
      await enclave.call('wallet.delete', { record: w.record, body });
      const logged = await log.commit({
        async work(tx) {
          if (!(await repo.markDeleted(tx, walletId, w.record.version)))
            throw new HostError('WALLET_CONFLICT');
          return { result: undefined, entries: [entry('wallet.deleted', w.record)] };
        },
      });
      return {
        wallet_id: walletId,
        deleted: true as const,
        log: receipt(logged.indexes, logged.checkpoint),
      };
    },
  };
}
export type WalletService = ReturnType<typeof createWalletService>;
