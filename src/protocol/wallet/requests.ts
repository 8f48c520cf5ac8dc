/**
 * The sign request R and the policy rules, as zod schemas (docs/protocol/wallet-shares.md).
 * Quantities arrive as JSON numbers (safe integers) or as decimal or 0x-hex strings, and are
 * read as bigint: wei amounts and chain ids exceed 2^53.
 */
import { z } from 'zod';
import { base64Range } from '../encoding.js';

/** The largest quantity (and the cap of a day's spend counter, which saturates there). */
export const MAX_UINT256 = (1n << 256n) - 1n;
const MAX_MESSAGE_BYTES = 64 * 1024;

/** A quantity as written in JSON: a safe integer, or a decimal or 0x string. */
export const RawQuantitySchema = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z.string().regex(/^(?:0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/),
]);
export const QuantitySchema = RawQuantitySchema.transform((v) => BigInt(v)).refine(
  (v) => v <= MAX_UINT256,
  { message: 'must fit in 256 bits' },
);

/** A 20-byte address; mixed case must be a valid EIP-55 checksum (checked when signing). */
export const EthAddressSchema = z.string().regex(/^0x[0-9a-fA-F]{40}$/);
const HexDataSchema = z
  .string()
  .regex(/^0x(?:[0-9a-fA-F]{2})*$/)
  .max(2 + 2 * 128 * 1024);

export const EthTransactionSchema = z
  .object({
    chainId: QuantitySchema.refine((v) => v >= 1n, { message: 'chainId must be >= 1' }),
    nonce: QuantitySchema.refine((v) => v < (1n << 64n) - 1n, { message: 'nonce < 2^64-1' }),
    // Absent: contract creation.
    to: EthAddressSchema.optional(),
    value: QuantitySchema.default(0n),
    data: HexDataSchema.default('0x'),
    gas: QuantitySchema.refine((v) => v < 1n << 64n, { message: 'gas < 2^64' }),
    maxFeePerGas: QuantitySchema.optional(),
    maxPriorityFeePerGas: QuantitySchema.optional(),
    gasPrice: QuantitySchema.optional(),
  })
  .strict()
  .refine(
    (t) =>
      t.gasPrice !== undefined
        ? t.maxFeePerGas === undefined && t.maxPriorityFeePerGas === undefined
        : t.maxFeePerGas !== undefined && t.maxPriorityFeePerGas !== undefined,
    { message: 'either gasPrice (legacy, EIP-155) or maxFeePerGas and maxPriorityFeePerGas' },
  );
export type EthTransaction = z.infer<typeof EthTransactionSchema>;

const TypedDataSchema = z
  .object({
    types: z.record(
      z.string().max(256),
      z.array(z.object({ name: z.string().max(256), type: z.string().max(256) }).strict()).max(256),
    ),
    primaryType: z.string().max(256),
    domain: z.record(z.string(), z.unknown()),
    message: z.record(z.string(), z.unknown()),
  })
  .strict();

export const SignRequestSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('eth_personal_sign'),
      // "0x…" (even-length hex) is bytes; anything else is UTF-8 text, as wallets do.
      message: z.string().min(1).max(MAX_MESSAGE_BYTES),
    })
    .strict(),
  z.object({ type: z.literal('eth_typed_data'), typed_data: TypedDataSchema }).strict(),
  z.object({ type: z.literal('eth_transaction'), transaction: EthTransactionSchema }).strict(),
  z.object({ type: z.literal('sol_message'), message: base64Range(1, MAX_MESSAGE_BYTES) }).strict(),
  z
    .object({ type: z.literal('sol_transaction'), message: base64Range(1, MAX_MESSAGE_BYTES) })
    .strict(),
]);
export type SignRequest = z.infer<typeof SignRequestSchema>;

/** The body of POST /wallets/:id/sign, without its share (what `binds` covers). */
export const SignBodySchema = z.object({ address: z.string().max(64), request: z.unknown() });

/** The policy rules, over a quantity schema: parsed (bigints) or as stored (raw JSON). */
function policyRuleSchema<Q extends z.ZodType>(quantity: Q) {
  return z.discriminatedUnion('type', [
    z.object({ type: z.literal('max_value_wei'), value: quantity }).strict(),
    z.object({ type: z.literal('daily_limit_wei'), value: quantity }).strict(),
    z.object({ type: z.literal('allowed_chain_ids'), values: z.array(quantity).max(256) }).strict(),
    z
      .object({
        type: z.literal('allowed_recipients'),
        values: z.array(EthAddressSchema).max(1024),
      })
      .strict(),
    z.object({ type: z.literal('deny_message_signing') }).strict(),
  ]);
}
export const PolicyRuleSchema = policyRuleSchema(QuantitySchema);
/** A rule exactly as the owner sent it: what the enclave MACs and the host stores. */
export const StoredPolicyRuleSchema = policyRuleSchema(RawQuantitySchema);
export type PolicyRule = z.infer<typeof PolicyRuleSchema>;
export const PolicyRulesSchema = z.array(PolicyRuleSchema).max(32);
