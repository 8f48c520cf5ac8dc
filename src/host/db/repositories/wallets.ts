/**
 * Wallet rows, the wallet keyring and the daily spend counters. A row holds what the enclave
 * returned (ciphertext, public data, rules, recovery time-lock, MAC) and is written back whole,
 * in the same transaction as the operation's log entry (wallet-service.ts). Every read is
 * scoped to its owner: another user's wallet is simply not found.
 */
import type { SpendCounter, WalletRecord } from '../../../protocol/rpc/wallet-methods.js';
import type { Queryable } from '../database.js';

export interface WalletRow {
  id: string;
  user_id: string;
  label: string;
  generation: number;
  version: number;
  server_share: string | null;
  ethereum_xpub: string;
  accounts: string;
  policy_rules: string;
  recovery_started_at: string | null;
  recovery_unlock_at: string | null;
  authorized_at: string | null;
  share_digests: string | null;
  accounts_signature: string | null;
  state_mac: string;
}

export interface StoredWallet {
  label: string;
  record: WalletRecord;
  /** The enclave's signature over the record's accounts (null for a record without digests). */
  accountsSignature: string | null;
}

const COLUMNS = `id::text AS id, user_id::text AS user_id, label, generation, version, server_share,
  ethereum_xpub, accounts, policy_rules, recovery_started_at::text AS recovery_started_at,
  recovery_unlock_at::text AS recovery_unlock_at, authorized_at::text AS authorized_at,
  share_digests, accounts_signature, state_mac`;

function toRecord(r: WalletRow): WalletRecord {
  return {
    wallet_id: r.id,
    user_id: r.user_id,
    generation: r.generation,
    version: r.version,
    server_share: r.server_share === null ? null : JSON.parse(r.server_share),
    ethereum_xpub: r.ethereum_xpub,
    accounts: JSON.parse(r.accounts),
    rules: JSON.parse(r.policy_rules),
    recovery:
      r.recovery_started_at === null || r.recovery_unlock_at === null
        ? null
        : { started_at: Number(r.recovery_started_at), unlock_at: Number(r.recovery_unlock_at) },
    ...(r.authorized_at === null ? {} : { authorized_at: Number(r.authorized_at) }),
    ...(r.share_digests === null ? {} : { share_digests: JSON.parse(r.share_digests) }),
    mac: r.state_mac,
  };
}

const stored = (r: WalletRow): StoredWallet => ({
  label: r.label,
  record: toRecord(r),
  accountsSignature: r.accounts_signature,
});

/** Wallets of `$1` (a user id) not deleted. */
const COUNT_LIVE =
  'SELECT count(*)::int AS n FROM wallets WHERE user_id = $1 AND deleted_at IS NULL';

async function liveWallets(q: Queryable, userId: string): Promise<number> {
  const { rows } = await q.query<{ n: number }>(COUNT_LIVE, [userId]);
  return rows[0]!.n;
}

export function createWalletRepository(db: Queryable) {
  return {
    async latestKeyring(): Promise<{ generation: number; sealed: string } | null> {
      const { rows } = await db.query<{ generation: number; sealed: string }>(
        // After a cluster genesis, the generation it converted is served wrapped (migration 011).
        `SELECT w.generation, COALESCE(c.wrapped, w.sealed) AS sealed
           FROM wallet_keyring w
           LEFT JOIN cluster_keyrings c ON c.purpose = 'wallet' AND c.generation = w.generation
          ORDER BY w.generation DESC LIMIT 1`,
      );
      return rows[0] ?? null;
    },
    async insertKeyring(generation: number, sealed: string): Promise<void> {
      await db.query('INSERT INTO wallet_keyring (generation, sealed) VALUES ($1, $2)', [
        generation,
        sealed,
      ]);
    },

    /** Wallets of `userId` not deleted. */
    count: (userId: string): Promise<number> => liveWallets(db, userId),

    /**
     * Inserts the record unless its user already holds `max` wallets not deleted (false). The
     * user's row is locked for the transaction, so concurrent creations count one at a time.
     */
    async insert(
      tx: Queryable,
      label: string,
      record: WalletRecord,
      max: number,
      accountsSignature: string,
    ): Promise<boolean> {
      await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [record.user_id]);
      if ((await liveWallets(tx, record.user_id)) >= max) return false;
      await tx.query(
        `INSERT INTO wallets (id, user_id, label, generation, version, server_share, ethereum_xpub,
           accounts, policy_rules, recovery_started_at, recovery_unlock_at, authorized_at, state_mac,
           share_digests, accounts_signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [record.wallet_id, record.user_id, label, ...fields(record), accountsSignature],
      );
      return true;
    },

    /**
     * Writes the enclave's next record over exactly the version it was made from; false if the
     * row moved on meanwhile (a concurrent operation won), so nothing is half-written. The
     * accounts signature is replaced when given (accounts or generation changed), else kept.
     */
    async update(
      tx: Queryable | null,
      prevVersion: number,
      record: WalletRecord,
      accountsSignature?: string,
    ): Promise<boolean> {
      const { rows } = await (tx ?? db).query(
        `UPDATE wallets SET generation = $2, version = $3, server_share = $4, ethereum_xpub = $5,
           accounts = $6, policy_rules = $7, recovery_started_at = $8, recovery_unlock_at = $9,
           authorized_at = $10, state_mac = $11, share_digests = $12,
           accounts_signature = COALESCE($13, accounts_signature), updated_at = now()
         WHERE id = $1 AND version = $14 AND deleted_at IS NULL RETURNING id`,
        [record.wallet_id, ...fields(record), accountsSignature ?? null, prevVersion],
      );
      return rows.length === 1;
    },

    /** Purges the server share; the row stays (deleted) so the id is never reused. */
    async markDeleted(tx: Queryable, walletId: string, version: number): Promise<boolean> {
      const { rows } = await tx.query(
        `UPDATE wallets SET server_share = NULL, deleted_at = now(), updated_at = now()
         WHERE id = $1 AND version = $2 AND deleted_at IS NULL RETURNING id`,
        [walletId, version],
      );
      if (rows.length === 1)
        await tx.query('DELETE FROM wallet_daily_spend WHERE wallet_id = $1', [walletId]);
      return rows.length === 1;
    },

    async find(userId: string, walletId: string): Promise<StoredWallet | null> {
      const { rows } = await db.query<WalletRow>(
        `SELECT ${COLUMNS} FROM wallets WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL`,
        [walletId, userId],
      );
      const r = rows[0];
      return r ? stored(r) : null;
    },

    async list(userId: string): Promise<StoredWallet[]> {
      const { rows } = await db.query<WalletRow>(
        `SELECT ${COLUMNS} FROM wallets WHERE user_id = $1 AND deleted_at IS NULL
         ORDER BY created_at, id LIMIT 1000`,
        [userId],
      );
      return rows.map(stored);
    },

    async spend(walletId: string, day: string): Promise<SpendCounter | null> {
      const { rows } = await db.query<{ spent_wei: string; mac: string }>(
        'SELECT spent_wei::text AS spent_wei, mac FROM wallet_daily_spend WHERE wallet_id = $1 AND day = $2',
        [walletId, day],
      );
      const r = rows[0];
      return r ? { wallet_id: walletId, day, spent_wei: r.spent_wei, mac: r.mac } : null;
    },

    /** Keeps the larger counter: a late write of an older value cannot lower it. */
    async saveSpend(tx: Queryable, c: SpendCounter): Promise<void> {
      await tx.query(
        `INSERT INTO wallet_daily_spend (wallet_id, day, spent_wei, mac) VALUES ($1, $2, $3, $4)
         ON CONFLICT (wallet_id, day) DO UPDATE SET spent_wei = EXCLUDED.spent_wei, mac = EXCLUDED.mac
         WHERE wallet_daily_spend.spent_wei < EXCLUDED.spent_wei`,
        [c.wallet_id, c.day, c.spent_wei, c.mac],
      );
    },
  };
}
export type WalletRepository = ReturnType<typeof createWalletRepository>;

function fields(r: WalletRecord): unknown[] {
  return [
    r.generation,
    r.version,
    r.server_share === null ? null : JSON.stringify(r.server_share),
    r.ethereum_xpub,
    JSON.stringify(r.accounts),
    JSON.stringify(r.rules),
    r.recovery?.started_at ?? null,
    r.recovery?.unlock_at ?? null,
    r.authorized_at ?? null,
    r.mac,
    r.share_digests === undefined ? null : JSON.stringify(r.share_digests),
  ];
}
