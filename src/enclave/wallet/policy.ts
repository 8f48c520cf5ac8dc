/**
 * Policy evaluation, a pure function run inside the enclave (the host cannot edit what the
 * enclave enforces). Rules are checked in order and the first that refuses is returned.
 * Fail closed: a rule the enclave cannot evaluate for a request refuses it (a Solana
 * transaction is opaque to value, chain and recipient rules, so those rules refuse it).
 */
import type { EthTransaction, PolicyRule, SignRequest } from '../../protocol/wallet/requests.js';

export type PolicyVerdict =
  | {
      allowed: true;
      /** wei this request adds to today's total: value + the largest fee (0 for a message) */
      spendWei: bigint;
    }
  | { allowed: false; rule: { index: number; type: PolicyRule['type'] } };

export interface PolicyContext {
  /** Wei already signed today (UTC day) by this wallet, from durable shared storage. */
  spentTodayWei: bigint;
}

const MESSAGE_TYPES = new Set(['eth_personal_sign', 'eth_typed_data', 'sol_message']);

/**
 * The EIP-712 domain's chain id: undefined when the domain has none (the signature is then
 * bound to no chain), null when it has one in a spelling the policy does not read. The signer
 * reads more spellings ("0X0a", "+10", " 10", "0b1010" are all chain 10), so an unread one must
 * refuse, never pass.
 */
function typedDataChainId(request: SignRequest): bigint | null | undefined {
  if (request.type !== 'eth_typed_data') return undefined;
  if (!Object.hasOwn(request.typed_data.domain, 'chainId')) return undefined;
  const c = request.typed_data.domain['chainId'];
  if (typeof c === 'number' && Number.isSafeInteger(c) && c >= 0) return BigInt(c);
  if (typeof c === 'string' && /^(?:0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(c)) return BigInt(c);
  return null;
}

/**
 * The most native currency a transaction can take from the account: its value plus the largest
 * fee it allows (gas × maxFeePerGas, or gas × gasPrice). A fee is paid out too: the part above
 * the base fee goes to whoever builds the block, so a zero-value transaction with a huge tip
 * moves the balance to a builder the signer runs.
 */
function outflowWei(tx: EthTransaction): bigint {
  return tx.value + tx.gas * (tx.maxFeePerGas ?? tx.gasPrice ?? 0n);
}

function refuses(rule: PolicyRule, request: SignRequest, ctx: PolicyContext): boolean {
  const tx = request.type === 'eth_transaction' ? request.transaction : undefined;
  const opaque = request.type === 'sol_transaction';
  switch (rule.type) {
    case 'deny_message_signing':
      return MESSAGE_TYPES.has(request.type);
    case 'max_value_wei':
      return opaque || (tx !== undefined && tx.value > rule.value);
    case 'daily_limit_wei':
      return opaque || (tx !== undefined && ctx.spentTodayWei + outflowWei(tx) > rule.value);
    case 'allowed_chain_ids': {
      if (opaque) return true;
      const chainId = tx?.chainId ?? typedDataChainId(request);
      if (chainId === null) return true;
      return chainId !== undefined && !rule.values.includes(chainId);
    }
    case 'allowed_recipients': {
      if (opaque) return true;
      if (!tx) return false;
      // A contract creation has no recipient, so an allow-list refuses it.
      if (tx.to === undefined) return true;
      const to = tx.to.toLowerCase();
      return !rule.values.some((v) => v.toLowerCase() === to);
    }
  }
}

export function evaluatePolicy(
  rules: readonly PolicyRule[],
  request: SignRequest,
  ctx: PolicyContext,
): PolicyVerdict {
  for (const [index, rule] of rules.entries()) {
    if (refuses(rule, request, ctx)) return { allowed: false, rule: { index, type: rule.type } };
  }
  return {
    allowed: true,
    spendWei: request.type === 'eth_transaction' ? outflowWei(request.transaction) : 0n,
  };
}
