/**
 * The wallet-custody part of the closed enclave method table (spread into METHODS in
 * methods.ts; docs/protocol/wallet-shares.md, "Service wiring"). The host hands the enclave the
 * wallet's stored record (ciphertext, public keys, rules, recovery state and the enclave's MAC
 * over all of it) and the raw HTTP body (share envelope included); the enclave checks the MAC,
 * opens the share, does the work and returns the next record with a fresh MAC. Results are
 * allow-lists: sealed shares (to the client's reply key), public accounts, ciphertext, MACs.
 */
import { z } from 'zod';
import { base64Bytes, hexBytes } from '../encoding.js';
import { WALLET_MAX_ACCOUNTS } from '../wallet/constants.js';
import { SealedShareSchema, WalletIdSchema } from '../wallet/sealed-share.js';
import { StoredPolicyRuleSchema } from '../wallet/requests.js';
import type { Phase } from './methods.js';

const READY: readonly Phase[] = ['ready'];
const UnixSeconds = z.number().int().nonnegative();
const Sealed = z
  .string()
  .min(1)
  .max(1024 * 1024);

export const ServerShareRecordSchema = z
  .object({ nonce: base64Bytes(12), ciphertext: z.string().min(4).max(256), tag: base64Bytes(16) })
  .strict();

export const WalletAccountSchema = z
  .object({
    chain: z.enum(['ethereum', 'solana']),
    index: z.number().int().nonnegative().max(0x7fffffff),
    path: z.string().max(64),
    address: z.string().min(32).max(64),
  })
  .strict();
export type WalletAccount = z.infer<typeof WalletAccountSchema>;

/**
 * What the host stores for a wallet and hands back on every call. `mac` is the enclave's
 * HMAC over every other field (wallet-state MAC key of the `wallet` keyring purpose), so the
 * host can neither edit the rules or recovery state nor pair a record with another generation.
 * `version` grows with every change; the enclave refuses a version below the highest it has
 * issued for the wallet since it started (rollback within an enclave lifetime).
 */
export const WalletRecordSchema = z
  .object({
    wallet_id: WalletIdSchema,
    user_id: z.string().min(1).max(64),
    generation: z.number().int().positive(),
    version: z.number().int().positive(),
    /** null once deleted (the server share is purged). */
    server_share: ServerShareRecordSchema.nullable(),
    ethereum_xpub: z.string().min(100).max(120),
    accounts: z.array(WalletAccountSchema).min(1).max(WALLET_MAX_ACCOUNTS),
    /** The policy rules exactly as the owner sent them (raw JSON, parsed by the enclave). */
    rules: z.array(StoredPolicyRuleSchema).max(32),
    recovery: z.object({ started_at: UnixSeconds, unlock_at: UnixSeconds }).strict().nullable(),
    /**
     * `issued_at` of the share envelope that authorized the latest change (absent before the
     * first): a changing action refuses an envelope issued earlier, so one replayed to another
     * cluster member (its own replay cache never saw it) cannot undo a later change.
     */
    authorized_at: UnixSeconds.optional(),
    /**
     * `splitAuthorizer` of the generation's two client shares (absent on records split before
     * they were kept): what `accounts_signature` binds the account list to, an anchor the
     * client holds (protocol/wallet/split-proof.ts).
     */
    share_digests: z
      .object({ device: hexBytes(32), recovery: hexBytes(32) })
      .strict()
      .optional(),
    mac: hexBytes(32),
  })
  .strict();
export type WalletRecord = z.infer<typeof WalletRecordSchema>;

/** Wei signed by one wallet on one UTC day, MACed by the enclave (host storage, enclave truth). */
export const SpendCounterSchema = z
  .object({
    wallet_id: WalletIdSchema,
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    spent_wei: z.string().regex(/^[0-9]{1,78}$/),
    mac: hexBytes(32),
  })
  .strict();
export type SpendCounter = z.infer<typeof SpendCounterSchema>;

/** The raw JSON body of the HTTP request (with its `share`), as the host received it. */
const RawBody = z.record(z.string(), z.unknown());
const WithRecord = { record: WalletRecordSchema, body: RawBody };
const RecordResult = z.object({ record: WalletRecordSchema }).strict();
const Shares = z.object({ device: SealedShareSchema, recovery: SealedShareSchema }).strict();
/** Ed25519 signature of the attested result key over the split (protocol/wallet/split-proof.ts). */
const SplitSignature = base64Bytes(64);
/** Its signature over the account list (`accountsSigningInput`), for records with share_digests. */
const AccountsSignature = base64Bytes(64);

export const WALLET_METHODS = {
  /** Unseal the stored wallet keyring, or (`sealed: null`) create one the host must store. */
  'wallet.init': {
    params: z.object({ sealed: Sealed.nullable() }).strict(),
    result: z
      .object({ sealed: Sealed.nullable(), generation: z.number().int().positive() })
      .strict(),
    phases: READY,
  },
  'wallet.create': {
    params: z
      .object({
        user_id: z.string().min(1).max(64),
        wallet_id: WalletIdSchema,
        reply_pub: base64Bytes(32),
      })
      .strict(),
    result: z
      .object({
        record: WalletRecordSchema,
        shares: Shares,
        split_signature: SplitSignature,
        accounts_signature: AccountsSignature,
      })
      .strict(),
    phases: READY,
  },
  /** An Ethereum account from the xpub (no share); a Solana account needs `share` in the body. */
  'wallet.add_account': {
    params: z.object(WithRecord).strict(),
    result: z
      .object({
        record: WalletRecordSchema,
        account: WalletAccountSchema,
        accounts_signature: AccountsSignature.optional(),
      })
      .strict(),
    phases: READY,
  },
  'wallet.sign': {
    params: z.object({ ...WithRecord, spend: SpendCounterSchema.nullable() }).strict(),
    result: z.discriminatedUnion('verdict', [
      z
        .object({
          verdict: z.literal('allowed'),
          request_digest: hexBytes(32),
          address: z.string().max(64),
          result: z.union([
            z.object({ signature: z.string().max(200) }).strict(),
            z
              .object({
                signed_transaction: z.string().max(2 + 4 * 128 * 1024),
                hash: z.string().regex(/^0x[0-9a-f]{64}$/),
              })
              .strict(),
          ]),
          spend: SpendCounterSchema,
        })
        .strict(),
      z
        .object({
          verdict: z.literal('denied'),
          request_digest: hexBytes(32),
          address: z.string().max(64),
          rule: z
            .object({ index: z.number().int().nonnegative(), type: z.string().max(64) })
            .strict(),
        })
        .strict(),
    ]),
    phases: READY,
  },
  'wallet.set_policy': {
    params: z.object(WithRecord).strict(),
    result: RecordResult,
    phases: READY,
  },
  'wallet.recovery_start': {
    params: z.object(WithRecord).strict(),
    result: RecordResult,
    phases: READY,
  },
  'wallet.recovery_cancel': {
    params: z.object(WithRecord).strict(),
    result: RecordResult,
    phases: READY,
  },
  /** Recovery completion (`mode: "recovery_complete"`) or reshare: same secret, generation + 1. */
  'wallet.resplit': {
    params: z.object({ ...WithRecord, mode: z.enum(['recovery_complete', 'reshare']) }).strict(),
    result: z
      .object({
        record: WalletRecordSchema,
        shares: Shares,
        split_signature: SplitSignature,
        accounts_signature: AccountsSignature,
      })
      .strict(),
    phases: READY,
  },
  /** Proof of possession before the host purges the server share. */
  'wallet.delete': {
    params: z.object(WithRecord).strict(),
    result: z
      .object({ wallet_id: WalletIdSchema, generation: z.number().int().positive() })
      .strict(),
    phases: READY,
  },
} as const;
