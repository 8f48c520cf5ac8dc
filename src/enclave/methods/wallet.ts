/**
 * The enclave half of wallet custody (docs/protocol/wallet-shares.md, "Service wiring"). Every
 * method first checks the host's stored record against the enclave's MAC (state-mac.ts), parses
 * the raw HTTP body strictly, opens the share through the one envelope-opening path (purpose
 * `wallet_share`: replay and freshness rules, `binds` over this very body), then calls the pure
 * custody core (../wallet/custody.ts) and returns the next record with a fresh MAC. Operations
 * on one wallet run one at a time, so two concurrent signatures cannot both spend the same
 * daily allowance.
 */
import { sign } from 'node:crypto';
import { z } from 'zod';
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';
import { CredentialEnvelopeSchema } from '../../protocol/envelope/registry.js';
import type { MethodParams, MethodResult } from '../../protocol/rpc/methods.js';
import type { WalletRecord } from '../../protocol/rpc/wallet-methods.js';
import { signRequestDigest, type WalletAction } from '../../protocol/wallet/binds.js';
import { ethereumAccountFromXpub } from '../../protocol/wallet/derive.js';
import { WALLET_MAX_ACCOUNTS } from '../../protocol/wallet/constants.js';
import { WalletError } from '../../protocol/wallet/errors.js';
import {
  MAX_UINT256,
  PolicyRulesSchema,
  SignRequestSchema,
  StoredPolicyRuleSchema,
} from '../../protocol/wallet/requests.js';
import {
  accountsSigningInput,
  splitAuthorizer,
  splitSigningInput,
  type SplitProofInput,
} from '../../protocol/wallet/split-proof.js';
import { wipe } from '../../protocol/wallet/wipe.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { readyKeyring, type EnclaveState } from '../state.js';
import {
  createWallet,
  deriveAccountWithShare,
  resplitWallet,
  signWithShares,
  verifyClientShare,
  type ClientShare,
  type StoredWallet,
  type WalletKeys,
} from '../wallet/custody.js';
import {
  checkRecord,
  rememberRecord,
  rememberSpend,
  signRecord,
  signSpend,
  spentToday,
  utcDay,
  type UnsignedRecord,
} from '../wallet/state-mac.js';
import { EnvelopeError } from '../../protocol/envelope/errors.js';
import { WalletKeyring } from '../wallet/wallet-keyring.js';
import { acceptParsedWalletShare } from '../wallet/wallet-share.js';
import { nodePrimitives } from '../crypto/node-primitives.js';
import { ENVELOPE_PURPOSES, openOnce } from './open-envelope.js';

type Body = Record<string, unknown>;

function walletKeyring(state: EnclaveState): WalletKeyring {
  const k = state.keyrings.wallet.active;
  if (!k) throw new WalletError('WALLET_NOT_READY');
  return k;
}

const keysOf = (k: WalletKeyring): WalletKeys => ({ masterKey: k.masterKey });

/** The attested result key's signature over a split: the client's proof the enclave made it. */
function signSplit(state: EnclaveState, p: SplitProofInput): string {
  const key = readyKeyring(state).resultSigningKey();
  return bytesToBase64(new Uint8Array(sign(null, splitSigningInput(p), key)));
}

/**
 * The attested result key's signature over the record's account list, bound to its share
 * digests (`accountsSigningInput`); none for a record split before they were kept.
 */
function signAccounts(state: EnclaveState, r: WalletRecord): string | undefined {
  if (r.share_digests === undefined) return undefined;
  const key = readyKeyring(state).resultSigningKey();
  const input = accountsSigningInput({
    wallet_id: r.wallet_id,
    generation: r.generation,
    share_digests: r.share_digests,
    accounts: r.accounts,
  });
  return bytesToBase64(new Uint8Array(sign(null, input, key)));
}

/** For a record just split (it has share_digests). */
function signed(state: EnclaveState, r: WalletRecord): string {
  const s = signAccounts(state, r);
  if (s === undefined) throw new WalletError('WALLET_STATE_INVALID');
  return s;
}

const accountsSignature = (state: EnclaveState, r: WalletRecord) => {
  const s = signAccounts(state, r);
  return s === undefined ? {} : { accounts_signature: s };
};

/** Runs one operation per wallet at a time (the daily counter is read, then advanced). */
function serialized<T>(state: EnclaveState, walletId: string, fn: () => Promise<T>): Promise<T> {
  const { queues } = state.wallets;
  const prev = queues.get(walletId) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  queues.set(walletId, tail);
  void tail.then(() => {
    if (queues.get(walletId) === tail) queues.delete(walletId);
  });
  return run;
}

/** MAC and version check; a deleted wallet has no server share and does nothing. */
function checked(state: EnclaveState, record: WalletRecord): StoredWallet {
  checkRecord(walletKeyring(state).macKey, state.wallets, record);
  if (record.server_share === null) throw new WalletError('WALLET_DELETED');
  return {
    userId: record.user_id,
    walletId: record.wallet_id,
    generation: record.generation,
    serverShare: record.server_share,
  };
}

function issue(state: EnclaveState, next: UnsignedRecord): WalletRecord {
  const record = signRecord(walletKeyring(state).macKey, next);
  rememberRecord(state.wallets, record);
  return record;
}

function parseBody<S extends z.ZodType>(schema: S, body: Body): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new WalletError('WALLET_REQUEST_INVALID');
  return r.data;
}

/** Opens `body.share` (a credential envelope) once: the 33 share bytes and the claimed kind. */
async function openShare(
  state: EnclaveState,
  action: WalletAction,
  walletId: string,
  body: Body,
): Promise<ClientShare & { issuedAt: number }> {
  const envelope = CredentialEnvelopeSchema.safeParse(body['share']);
  if (!envelope.success) throw new WalletError('WALLET_SHARE_INVALID');
  const opened = await openOnce(state, envelope.data, ENVELOPE_PURPOSES.wallet_share, (v) =>
    acceptParsedWalletShare(v, { action, walletId, body }),
  );
  return { kind: opened.value.kind, share: opened.value.share, issuedAt: opened.value.issuedAt };
}

/**
 * A share for an action that changes the record: never issued before the envelope that
 * authorized the record's latest change. The replay cache is this enclave's own, so without
 * this a host could replay an earlier envelope (within the freshness window) to another cluster
 * member and get a newer record that undoes the later change (a looser policy, say).
 */
async function openChangeShare(
  state: EnclaveState,
  action: WalletAction,
  record: WalletRecord,
  body: Body,
): Promise<ClientShare & { issuedAt: number }> {
  const share = await openShare(state, action, record.wallet_id, body);
  if (record.authorized_at !== undefined && share.issuedAt < record.authorized_at) {
    wipe(share.share);
    throw new EnvelopeError('ENVELOPE_REPLAYED');
  }
  return share;
}

/**
 * The client's `reply_pub` as bytes, refused (WALLET_REQUEST_INVALID) if it is a low-order
 * point: sealing to it fails (RFC 7748's all-zero check), and on a re-split that happened after
 * the share was spent and the secret rebuilt, as a 500. Any clamped scalar is a multiple of the
 * cofactor, so one random scalar tells.
 */
function replyKey(b64: string): Uint8Array {
  const pub = base64ToBytes(b64);
  const scalar = nodePrimitives.randomBytes(32);
  try {
    wipe(nodePrimitives.x25519(scalar, pub));
  } catch {
    throw new WalletError('WALLET_REQUEST_INVALID');
  } finally {
    wipe(scalar);
  }
  return pub;
}

const ShareOnly = z.object({ share: z.unknown() }).strict();
const ReplyBody = z
  .object({ share: z.unknown(), reply_pub: z.string().regex(/^[A-Za-z0-9+/]{43}=$/) })
  .strict();

export function walletInit(
  state: EnclaveState,
  params: MethodParams<'wallet.init'>,
): MethodResult<'wallet.init'> {
  const slot = state.keyrings.wallet;
  if (slot.active) return { sealed: null, generation: slot.active.generation };
  if (!state.policy) throw new RpcError('PHASE_FORBIDDEN');
  if (params.sealed === null) {
    const keyring = WalletKeyring.generate();
    return { sealed: slot.adopt(state.sealer, state.policy, keyring), generation: 1 };
  }
  slot.load(state.sealer, params.sealed);
  return { sealed: null, generation: walletKeyring(state).generation };
}

export async function walletCreate(
  state: EnclaveState,
  params: MethodParams<'wallet.create'>,
): Promise<MethodResult<'wallet.create'>> {
  const k = walletKeyring(state);
  const created = await createWallet(keysOf(k), {
    userId: params.user_id,
    walletId: params.wallet_id,
    replyPub: replyKey(params.reply_pub),
  });
  const record = issue(state, {
    wallet_id: params.wallet_id,
    user_id: params.user_id,
    generation: created.generation,
    version: 1,
    server_share: created.serverShare,
    ethereum_xpub: created.ethereumXpub,
    accounts: created.accounts,
    rules: [],
    recovery: null,
    share_digests: created.shareDigests,
  });
  const split_signature = signSplit(state, {
    wallet_id: record.wallet_id,
    generation: record.generation,
    accounts: record.accounts,
    reply_pub: params.reply_pub,
    shares: created.sealed,
  });
  return {
    record,
    shares: created.sealed,
    split_signature,
    accounts_signature: signed(state, record),
  };
}

const AccountBody = z
  .object({
    chain: z.enum(['ethereum', 'solana']),
    index: z.number().int().nonnegative().max(0x7fffffff),
    share: z.unknown().optional(),
  })
  .strict();

export function walletAddAccount(
  state: EnclaveState,
  params: MethodParams<'wallet.add_account'>,
): Promise<MethodResult<'wallet.add_account'>> {
  const { record, body } = params;
  return serialized(state, record.wallet_id, async () => {
    const stored = checked(state, record);
    const req = parseBody(AccountBody, body);
    const existing = record.accounts.find((a) => a.chain === req.chain && a.index === req.index);
    if (existing) return { record, account: existing, ...accountsSignature(state, record) };
    // A record over the schema's limit would be remembered, then fail the result schema: the
    // host could never store it and the wallet would be stale until a restart.
    if (record.accounts.length >= WALLET_MAX_ACCOUNTS)
      throw new WalletError('WALLET_REQUEST_INVALID');
    let account;
    let authorizedAt = record.authorized_at;
    if (req.chain === 'ethereum') {
      if (req.share !== undefined) throw new WalletError('WALLET_REQUEST_INVALID');
      account = ethereumAccountFromXpub(record.ethereum_xpub, req.index);
    } else {
      const share = await openChangeShare(state, 'account', record, body);
      authorizedAt = share.issuedAt;
      account = await deriveAccountWithShare(
        keysOf(walletKeyring(state)),
        stored,
        share,
        'solana',
        req.index,
      );
    }
    const { mac: _m, ...rest } = record;
    const next = issue(state, {
      ...rest,
      version: record.version + 1,
      accounts: [...record.accounts, account],
      ...(authorizedAt === undefined ? {} : { authorized_at: authorizedAt }),
    });
    return { record: next, account, ...accountsSignature(state, next) };
  });
}

const SignBody = z
  .object({ address: z.string().max(64), request: SignRequestSchema, share: z.unknown() })
  .strict();

export function walletSign(
  state: EnclaveState,
  params: MethodParams<'wallet.sign'>,
): Promise<MethodResult<'wallet.sign'>> {
  const { record, body } = params;
  return serialized(state, record.wallet_id, async () => {
    const stored = checked(state, record);
    const k = walletKeyring(state);
    const req = parseBody(SignBody, body);
    const requestDigest = signRequestDigest(body['request']);
    const account = record.accounts.find((a) =>
      a.chain === 'ethereum'
        ? a.address.toLowerCase() === req.address.toLowerCase()
        : a.address === req.address,
    );
    if (!account) throw new WalletError('WALLET_ADDRESS_UNKNOWN');
    const rules = PolicyRulesSchema.safeParse(record.rules);
    if (!rules.success) throw new WalletError('WALLET_STATE_INVALID');
    // The clock that never goes back: set back, the host's clock would give a day in the past
    // this enclave never signed on, with its whole allowance (test/wallet/attack-clock.test.ts).
    const day = utcDay(state.monotonicNow());
    const spent = spentToday(k.macKey, state.wallets, record.wallet_id, day, params.spend);
    const share = await openShare(state, 'sign', record.wallet_id, body);
    const out = await signWithShares(keysOf(k), stored, share, {
      account: { chain: account.chain, index: account.index },
      address: account.address,
      request: req.request,
      rules: rules.data,
      spentTodayWei: spent,
    });
    if (!('result' in out))
      return {
        verdict: 'denied',
        request_digest: requestDigest,
        address: account.address,
        rule: out.verdict.rule,
      };
    // Saturates: a sum past uint256 would outgrow the counter's schema once remembered (every
    // later signature that day INTERNAL); any limit is at most MAX_UINT256, so none is loosened.
    const total = spent + out.verdict.spendWei;
    const spend = signSpend(k.macKey, {
      wallet_id: record.wallet_id,
      day,
      spent_wei: (total > MAX_UINT256 ? MAX_UINT256 : total).toString(),
    });
    rememberSpend(state.wallets, spend);
    return {
      verdict: 'allowed',
      request_digest: requestDigest,
      address: account.address,
      result: out.result,
      spend,
    };
  });
}

/** An action that changes no key: proof of possession, then the next record. */
function provenChange(
  state: EnclaveState,
  params: { record: WalletRecord; body: Body },
  action: WalletAction,
  schema: z.ZodType,
  change: (record: WalletRecord, body: Body) => Partial<UnsignedRecord>,
): Promise<{ record: WalletRecord }> {
  const { record, body } = params;
  return serialized(state, record.wallet_id, async () => {
    const stored = checked(state, record);
    parseBody(schema, body);
    const delta = change(record, body); // refuses before the envelope is spent
    const share = await openChangeShare(state, action, record, body);
    await verifyClientShare(keysOf(walletKeyring(state)), stored, share);
    const { mac: _m, ...rest } = record;
    const next = { ...rest, ...delta, version: record.version + 1, authorized_at: share.issuedAt };
    return { record: issue(state, next) };
  });
}

const PolicyBody = z.object({ share: z.unknown(), rules: PolicyRulesSchema }).strict();

export function walletSetPolicy(state: EnclaveState, params: MethodParams<'wallet.set_policy'>) {
  // The rules are kept as the owner wrote them (what `binds` covers); PolicyBody checked them.
  return provenChange(state, params, 'policy', PolicyBody, (_r, body) => ({
    rules: z.array(StoredPolicyRuleSchema).parse(body['rules']),
  }));
}

export function walletRecoveryStart(
  state: EnclaveState,
  params: MethodParams<'wallet.recovery_start'>,
) {
  return provenChange(state, params, 'recovery', ReplyBody, (record) => {
    if (record.recovery !== null) throw new WalletError('WALLET_RECOVERY_IN_PROGRESS');
    // Never earlier than a time this enclave gave: a recovery "started a delay ago" would unlock
    // at once.
    const now = state.monotonicNow();
    return {
      recovery: { started_at: now, unlock_at: now + state.config.WALLET_RECOVERY_DELAY_SECONDS },
    };
  });
}

export function walletRecoveryCancel(
  state: EnclaveState,
  params: MethodParams<'wallet.recovery_cancel'>,
) {
  return provenChange(state, params, 'recovery_cancel', ShareOnly, (record) => {
    if (record.recovery === null) throw new WalletError('WALLET_RECOVERY_NOT_STARTED');
    return { recovery: null };
  });
}

/** Recovery completion (after the time-lock) or reshare: same secret, generation + 1. */
export function walletResplit(
  state: EnclaveState,
  params: MethodParams<'wallet.resplit'>,
): Promise<MethodResult<'wallet.resplit'>> {
  const { record, body, mode } = params;
  return serialized(state, record.wallet_id, async () => {
    const stored = checked(state, record);
    const req = parseBody(ReplyBody, body);
    const replyPub = replyKey(req.reply_pub); // before the envelope is spent
    if (mode === 'recovery_complete') {
      if (record.recovery === null) throw new WalletError('WALLET_RECOVERY_NOT_STARTED');
      if (state.monotonicNow() < record.recovery.unlock_at)
        throw new WalletError('WALLET_RECOVERY_LOCKED');
    }
    const share = await openChangeShare(state, mode, record, body);
    // Before resplitWallet consumes the share: the client checks its own share made this split.
    const authorizedBy = splitAuthorizer(share.share);
    try {
      const split = await resplitWallet(keysOf(walletKeyring(state)), stored, share, replyPub);
      const { mac: _m, ...rest } = record;
      const next = issue(state, {
        ...rest,
        generation: split.generation,
        version: record.version + 1,
        server_share: split.serverShare,
        // A reshare by the owner also ends a recovery someone else started.
        recovery: null,
        authorized_at: share.issuedAt,
        share_digests: split.shareDigests,
      });
      const split_signature = signSplit(state, {
        wallet_id: next.wallet_id,
        generation: next.generation,
        accounts: next.accounts,
        reply_pub: req.reply_pub,
        shares: split.sealed,
        authorized_by: authorizedBy,
      });
      return {
        record: next,
        shares: split.sealed,
        split_signature,
        accounts_signature: signed(state, next),
      };
    } finally {
      wipe(replyPub);
    }
  });
}

export function walletDelete(
  state: EnclaveState,
  params: MethodParams<'wallet.delete'>,
): Promise<MethodResult<'wallet.delete'>> {
  const { record, body } = params;
  return serialized(state, record.wallet_id, async () => {
    const stored = checked(state, record);
    parseBody(ShareOnly, body);
    const share = await openChangeShare(state, 'delete', record, body);
    await verifyClientShare(keysOf(walletKeyring(state)), stored, share);
    // No later record: a deleted wallet has none, and an old one cannot come back.
    state.wallets.versions.set(record.wallet_id, Number.MAX_SAFE_INTEGER);
    return { wallet_id: record.wallet_id, generation: record.generation };
  });
}

export const WALLET_HANDLERS = {
  'wallet.init': walletInit,
  'wallet.create': walletCreate,
  'wallet.add_account': walletAddAccount,
  'wallet.sign': walletSign,
  'wallet.set_policy': walletSetPolicy,
  'wallet.recovery_start': walletRecoveryStart,
  'wallet.recovery_cancel': walletRecoveryCancel,
  'wallet.resplit': walletResplit,
  'wallet.delete': walletDelete,
} as const;
