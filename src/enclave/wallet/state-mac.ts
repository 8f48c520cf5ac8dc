/**
 * What binds the host's wallet storage to the enclave (docs/protocol/wallet-shares.md, "State
 * the host stores"): an HMAC-SHA256 under the wallet keyring's MAC key over the JCS of the
 * wallet record (everything but `mac`) and over each daily spend counter. The host can store
 * and hand back these values, not edit them: a changed rule, recovery state, generation or
 * account fails the MAC (WALLET_STATE_INVALID).
 *
 * Rollback (the host hands back an older value that did carry a valid MAC) is refused within an
 * enclave lifetime by `WalletMemory`, the highest record version, `authorized_at` and spend per
 * (wallet, day) the enclave has issued since boot. Across an enclave restart it is not: the record's digest is in
 * every wallet.* transparency-log entry (so an owner or auditor sees the rollback), and an old
 * generation only revives shares the owner had already been given.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { bytesToHex, hexToBytes } from '../../protocol/encoding.js';
import { jcsBytes } from '../../protocol/jcs.js';
import type { SpendCounter, WalletRecord } from '../../protocol/rpc/wallet-methods.js';
import { WalletError } from '../../protocol/wallet/errors.js';

const RECORD_TAG = 'cloister/wallet-state/v1\n';
const SPEND_TAG = 'cloister/wallet-spend/v1\n';

function mac(key: Uint8Array, tag: string, value: unknown): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(tag).update(jcsBytes(value)).digest());
}

function macOk(key: Uint8Array, tag: string, value: unknown, given: string): boolean {
  const expected = mac(key, tag, value);
  const actual = hexToBytes(given);
  return actual.length === expected.length && timingSafeEqual(expected, actual);
}

export type UnsignedRecord = Omit<WalletRecord, 'mac'>;

export function signRecord(key: Uint8Array, record: UnsignedRecord): WalletRecord {
  return { ...record, mac: bytesToHex(mac(key, RECORD_TAG, record)) };
}

export function signSpend(key: Uint8Array, counter: Omit<SpendCounter, 'mac'>): SpendCounter {
  return { ...counter, mac: bytesToHex(mac(key, SPEND_TAG, counter)) };
}

export interface WalletMemory {
  /** Highest record version issued per wallet since boot. */
  readonly versions: Map<string, number>;
  /**
   * Highest `authorized_at` issued per wallet since boot. An honest record's `authorized_at`
   * never decreases from one version to the next, so a higher version with a lower one is a fork
   * from an older record: another cluster member can issue versions from a record this one
   * superseded without any share (an Ethereum account needs none), and the version alone would
   * then let the fork back in here.
   */
  readonly authorized: Map<string, number>;
  /** Highest spend issued per `${wallet}|${day}` since boot. */
  readonly spent: Map<string, bigint>;
  /** The tail of each wallet's queue of operations (methods/wallet.ts runs one at a time). */
  readonly queues: Map<string, Promise<unknown>>;
}

export function createWalletMemory(): WalletMemory {
  return { versions: new Map(), authorized: new Map(), spent: new Map(), queues: new Map() };
}

/** The record as the enclave issued it, and not older than what it issued since boot. */
export function checkRecord(key: Uint8Array, memory: WalletMemory, record: WalletRecord): void {
  const { mac: given, ...rest } = record;
  if (!macOk(key, RECORD_TAG, rest, given)) throw new WalletError('WALLET_STATE_INVALID');
  const seen = memory.versions.get(record.wallet_id);
  if (seen !== undefined && record.version < seen) throw new WalletError('WALLET_STATE_STALE');
  const authorized = memory.authorized.get(record.wallet_id);
  if (authorized !== undefined && (record.authorized_at ?? 0) < authorized)
    throw new WalletError('WALLET_STATE_STALE');
}

export function rememberRecord(memory: WalletMemory, record: WalletRecord): void {
  const seen = memory.versions.get(record.wallet_id) ?? 0;
  if (record.version > seen) memory.versions.set(record.wallet_id, record.version);
  const authorized = record.authorized_at ?? 0;
  if (authorized > (memory.authorized.get(record.wallet_id) ?? 0))
    memory.authorized.set(record.wallet_id, authorized);
}

/**
 * Wei already signed today: the host's counter if it is this wallet's and today's and its MAC
 * holds, never less than what this enclave issued today (so a replayed older counter or a
 * missing one cannot lower it while the enclave runs).
 */
export function spentToday(
  key: Uint8Array,
  memory: WalletMemory,
  walletId: string,
  day: string,
  counter: SpendCounter | null,
): bigint {
  let spent = 0n;
  if (counter !== null) {
    const { mac: given, ...rest } = counter;
    if (counter.wallet_id !== walletId || !macOk(key, SPEND_TAG, rest, given))
      throw new WalletError('WALLET_STATE_INVALID');
    if (counter.day === day) spent = BigInt(counter.spent_wei);
  }
  const seen = memory.spent.get(`${walletId}|${day}`) ?? 0n;
  return spent > seen ? spent : seen;
}

export function rememberSpend(memory: WalletMemory, counter: SpendCounter): void {
  memory.spent.set(`${counter.wallet_id}|${counter.day}`, BigInt(counter.spent_wei));
}

/** The UTC day of `seconds`, `YYYY-MM-DD`. */
export function utcDay(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}
