/**
 * Wallet custody routes (issue 14; docs/protocol/wallet-shares.md, "Routes"). Every route needs
 * an access token, and a wallet is found only for its owner: anyone else gets 404. Bodies are
 * validated here for shape; the raw JSON body (as parsed, before zod) is what goes to the
 * enclave, because the share's `binds` covers the body the client sent, not our parsed copy.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CredentialEnvelopeSchema } from '../../../protocol/envelope/registry.js';
import { WalletAccountSchema } from '../../../protocol/rpc/wallet-methods.js';
import { SealedShareSchema } from '../../../protocol/wallet/sealed-share.js';
import type { RequireStepUp } from '../../auth/step-up.js';
import type { AuthGuard } from '../../auth/guard.js';
import type { WalletService } from '../../services/wallet-service.js';
import { ErrorResponseSchema, LogReceiptSchema } from '../schemas.js';
import { rateLimitKey } from '../trust-proxy.js';

const Params = z.object({ id: z.uuid() });
const ReplyPub = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be base64 of 32 bytes');
const Share = CredentialEnvelopeSchema;
const Label = z.string().max(200);
const Rules = z.array(z.record(z.string(), z.unknown())).max(32);

const Bodies = {
  create: z.object({ label: Label.default(''), reply_pub: ReplyPub }).strict(),
  account: z
    .object({
      chain: z.enum(['ethereum', 'solana']),
      index: z.number().int().nonnegative().max(0x7fffffff),
      share: Share.optional(),
    })
    .strict(),
  sign: z
    .object({
      address: z.string().max(64),
      share: Share,
      request: z.record(z.string(), z.unknown()),
    })
    .strict(),
  policy: z.object({ share: Share, rules: Rules }).strict(),
  reply: z.object({ share: Share, reply_pub: ReplyPub }).strict(),
  share: z.object({ share: Share }).strict(),
};

const Sealed = z.object({ device: SealedShareSchema, recovery: SealedShareSchema });
const View = z.object({
  wallet_id: z.uuid(),
  label: z.string(),
  generation: z.number().int(),
  accounts: z.array(WalletAccountSchema),
  policy: z.object({ rules: z.array(z.unknown()) }),
  recovery: z.object({ started_at: z.number(), unlock_at: z.number() }).nullable(),
  share_digests: z.object({ device: z.string(), recovery: z.string() }).nullable(),
  accounts_signature: z.string().nullable(),
});
const Resplit = z.object({
  wallet_id: z.uuid(),
  generation: z.number().int(),
  accounts: z.array(WalletAccountSchema),
  shares: Sealed,
  split_signature: z.string(),
  accounts_signature: z.string(),
  log: LogReceiptSchema,
});
const Signed = z.union([
  z.object({ signature: z.string(), log: LogReceiptSchema }),
  z.object({ signed_transaction: z.string(), hash: z.string(), log: LogReceiptSchema }),
]);
const errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  403: ErrorResponseSchema,
  404: ErrorResponseSchema,
  409: ErrorResponseSchema,
  429: ErrorResponseSchema,
  503: ErrorResponseSchema,
};

export function walletRoutes(deps: {
  wallets: WalletService;
  guard: Pick<AuthGuard, 'claims'>;
  signMaxPerMinute: number;
  /**
   * Step-up on policy changes, recovery start/cancel/complete, reshare and delete
   * (docs/protocol/auth.md): what takes a wallet over or destroys it needs a recent second factor.
   */
  requireStepUp?: RequireStepUp;
  /**
   * Wraps the routes' own onRequest hooks (the token, the step-up), which run before a route's
   * limit, so that a refusal there counts against the client's global budget (app.ts).
   */
  counted?: (
    hook: (request: FastifyRequest) => Promise<unknown>,
  ) => (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}): FastifyPluginAsyncZod {
  return async (app) => {
    const users = new WeakMap<FastifyRequest, string>();
    const raw = new WeakMap<FastifyRequest, Record<string, unknown>>();
    // A token is required even in development mode: a wallet always has an owner.
    const counted = deps.counted ?? ((hook) => hook);
    const authenticate = counted(async (request: FastifyRequest) => {
      users.set(request, (await deps.guard.claims(request)).sub);
    });
    const keepRaw = async (request: FastifyRequest) => {
      const b = request.body;
      if (b !== null && typeof b === 'object' && !Array.isArray(b))
        raw.set(request, structuredClone(b) as Record<string, unknown>);
    };
    const user = (request: FastifyRequest) => users.get(request)!;
    const rawBody = (request: FastifyRequest) => raw.get(request)!;
    const opts = { onRequest: authenticate, preValidation: keepRaw };
    const stepUp = deps.requireStepUp;
    // Before the body is parsed: an unauthorised caller learns nothing about its body's validity.
    const sensitive = stepUp ? { ...opts, onRequest: [authenticate, counted(stepUp())] } : opts;

    app.post(
      '/wallets',
      {
        ...opts,
        schema: {
          summary: 'Create a wallet: 2-of-3 shares, device and recovery shares sealed to reply_pub',
          body: Bodies.create,
          response: {
            201: z.object({
              wallet_id: z.uuid(),
              generation: z.number().int(),
              accounts: z.array(WalletAccountSchema),
              shares: Sealed,
              split_signature: z.string(),
              accounts_signature: z.string(),
              log: LogReceiptSchema,
            }),
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const r = await deps.wallets.create(
          user(request),
          request.body.label,
          request.body.reply_pub,
        );
        reply.code(201);
        return r;
      },
    );

    app.get(
      '/wallets',
      {
        onRequest: authenticate,
        schema: { response: { 200: z.object({ wallets: z.array(View) }), ...errors } },
      },
      async (request) => ({ wallets: await deps.wallets.list(user(request)) }),
    );

    app.get(
      '/wallets/:id',
      { onRequest: authenticate, schema: { params: Params, response: { 200: View, ...errors } } },
      async (request) => deps.wallets.get(user(request), request.params.id),
    );

    app.post(
      '/wallets/:id/accounts',
      {
        ...opts,
        schema: {
          summary: 'Add an account: Ethereum from the xpub; Solana needs a share (hardened path)',
          params: Params,
          body: Bodies.account,
          response: {
            200: WalletAccountSchema.extend({ accounts_signature: z.string().nullable() }),
            ...errors,
          },
        },
      },
      async (request) =>
        deps.wallets.addAccount(user(request), request.params.id, rawBody(request)),
    );

    app.post(
      '/wallets/:id/sign',
      {
        ...opts,
        config: {
          rateLimit: {
            max: deps.signMaxPerMinute,
            timeWindow: 60_000,
            // In onRequest, after `authenticate` (the limit's hook comes after the route's own),
            // so every request counts: in preHandler, one whose body failed to parse or validate
            // never reached it.
            keyGenerator: (request: FastifyRequest) =>
              `wallet-sign:${users.get(request) ?? rateLimitKey(request)}`,
          },
        },
        schema: { params: Params, body: Bodies.sign, response: { 200: Signed, ...errors } },
      },
      async (request) => deps.wallets.sign(user(request), request.params.id, rawBody(request)),
    );

    app.put(
      '/wallets/:id/policy',
      {
        ...sensitive,
        schema: {
          params: Params,
          body: Bodies.policy,
          response: { 200: View.extend({ log: LogReceiptSchema }), ...errors },
        },
      },
      async (request) => deps.wallets.setPolicy(user(request), request.params.id, rawBody(request)),
    );

    app.post(
      '/wallets/:id/recovery',
      {
        ...sensitive,
        schema: {
          params: Params,
          body: Bodies.reply,
          response: { 200: View.extend({ log: LogReceiptSchema }), ...errors },
        },
      },
      async (request) =>
        deps.wallets.startRecovery(user(request), request.params.id, rawBody(request)),
    );

    app.delete(
      '/wallets/:id/recovery',
      {
        ...sensitive,
        schema: {
          params: Params,
          body: Bodies.share,
          response: { 200: View.extend({ log: LogReceiptSchema }), ...errors },
        },
      },
      async (request) =>
        deps.wallets.cancelRecovery(user(request), request.params.id, rawBody(request)),
    );

    app.post(
      '/wallets/:id/recovery/complete',
      {
        ...sensitive,
        schema: { params: Params, body: Bodies.reply, response: { 200: Resplit, ...errors } },
      },
      async (request) =>
        deps.wallets.resplit(
          user(request),
          request.params.id,
          rawBody(request),
          'recovery_complete',
        ),
    );

    app.post(
      '/wallets/:id/reshare',
      {
        ...sensitive,
        schema: { params: Params, body: Bodies.reply, response: { 200: Resplit, ...errors } },
      },
      async (request) =>
        deps.wallets.resplit(user(request), request.params.id, rawBody(request), 'reshare'),
    );

    app.delete(
      '/wallets/:id',
      {
        ...sensitive,
        schema: {
          params: Params,
          body: Bodies.share,
          response: {
            200: z.object({ wallet_id: z.uuid(), deleted: z.literal(true), log: LogReceiptSchema }),
            ...errors,
          },
        },
      },
      async (request) => deps.wallets.remove(user(request), request.params.id, rawBody(request)),
    );
  };
}
