/**
 * Accounts and tokens (docs/protocol/auth.md): POST /auth/register, /auth/login, /auth/refresh,
 * GET /auth/siwe/nonce and POST /auth/siwe/login (Sign-In with Ethereum),
 * /auth/logout, /auth/logout-all; GET /.well-known/jwks.json and /.well-known/openid-configuration.
 * Bodies are validated with zod; the password travels as typed or inside a credential envelope
 * and goes straight to the enclave (the logger never sees bodies; logging.ts's REDACTED_FIELDS covers it).
 * Per-IP limits use the app's @fastify/rate-limit store (in memory, or Redis with REDIS_URL).
 */
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EmailSchema, JwksSchema, PasswordSchema } from '../../../protocol/auth.js';
import { CredentialEnvelopeSchema } from '../../../protocol/envelope/registry.js';
import { SIWE_MAX_LENGTH } from '../../../protocol/siwe.js';
import { RecoveryCompletionCode } from '../../../protocol/rpc/auth-methods.js';
import {
  RecoveryCode,
  RefreshTokenSchema,
  TotpCode,
  type AuthSecret,
  type SecondFactor,
} from '../../../protocol/rpc/auth-methods.js';
import type { AuthService, TokenPair } from '../../auth/auth-service.js';
import type { AuthConfig } from '../../auth/config.js';
import type { RequireStepUp } from '../../auth/step-up.js';
import {
  ACCESS_COOKIE,
  REFRESH_COOKIE,
  cookieLine,
  readCookie,
  type AuthGuard,
} from '../../auth/guard.js';
import { HostError } from '../../errors.js';
import { ErrorResponseSchema, WebAuthnJsonSchema } from '../schemas.js';

const CredentialsBody = z
  .object({
    email: EmailSchema,
    password: PasswordSchema.optional(),
    envelope: CredentialEnvelopeSchema.optional(),
  })
  .strict()
  .refine((b) => (b.password === undefined) !== (b.envelope === undefined), {
    message: 'send exactly one of password and envelope',
    path: ['password'],
  });

const LoginBody = z
  .object({
    email: EmailSchema,
    password: PasswordSchema.optional(),
    envelope: CredentialEnvelopeSchema.optional(),
    totp_code: TotpCode.optional(),
    recovery_code: RecoveryCode.optional(),
  })
  .strict()
  .refine((b) => (b.password === undefined) !== (b.envelope === undefined), {
    message: 'send exactly one of password and envelope',
    path: ['password'],
  })
  .refine((b) => b.totp_code === undefined || b.recovery_code === undefined, {
    message: 'send at most one of totp_code and recovery_code',
    path: ['totp_code'],
  });

/** The second factor a body names, if any. */
const secondOf = (b: {
  totp_code?: string | undefined;
  recovery_code?: string | undefined;
}): SecondFactor | undefined =>
  b.totp_code !== undefined
    ? { totp_code: b.totp_code }
    : b.recovery_code !== undefined
      ? { recovery_code: b.recovery_code }
      : undefined;

const ResetBody = z
  .object({
    email: EmailSchema,
    code: z.string().regex(/^\d{6}$/),
    password: PasswordSchema.optional(),
    envelope: CredentialEnvelopeSchema.optional(),
  })
  .strict()
  .refine((b) => (b.password === undefined) !== (b.envelope === undefined), {
    message: 'send exactly one of password and envelope',
    path: ['password'],
  });

const secretOf = (b: Pick<z.infer<typeof CredentialsBody>, 'password' | 'envelope'>): AuthSecret =>
  b.envelope !== undefined ? { envelope: b.envelope } : { password: b.password! };

const TokenPairSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    refresh_token: z.string(),
    refresh_expires_in: z.number().int(),
  })
  .strict();

const SiweLoginBody = z
  .object({
    message: z.string().min(1).max(SIWE_MAX_LENGTH),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  })
  .strict();

/** The second factor a login by any first factor may carry (needed when TOTP is enrolled). */
const SecondFields = {
  totp_code: TotpCode.optional(),
  recovery_code: RecoveryCode.optional(),
};
const oneSecond = {
  message: 'send at most one of totp_code and recovery_code',
  path: ['totp_code'],
};
const atMostOneSecond = (b: {
  totp_code?: string | undefined;
  recovery_code?: string | undefined;
}) => b.totp_code === undefined || b.recovery_code === undefined;

/** A new password as typed, or `{envelope}` (plaintext action `link` or `change`). */
const NewPassword = z.union([
  PasswordSchema,
  z.object({ envelope: CredentialEnvelopeSchema }).strict(),
]);
const newSecretOf = (p: z.infer<typeof NewPassword>): AuthSecret =>
  typeof p === 'string' ? { password: p } : { envelope: p.envelope };

const RefreshBody = z.object({ refresh_token: RefreshTokenSchema.optional() }).strict();
const Errors = {
  400: ErrorResponseSchema,
  401: ErrorResponseSchema,
  409: ErrorResponseSchema,
  429: ErrorResponseSchema,
  503: ErrorResponseSchema,
};

/** `{ success: true }`, or 404 when there is nothing to act on. */
const SuccessOrNotFound = {
  200: z.object({ success: z.literal(true) }).strict(),
  404: ErrorResponseSchema,
  ...Errors,
};

/**
 * `public`: register, login, refresh and the key metadata. `account`: logout and logout-all,
 * which app.ts registers inside the authenticated context.
 */
export function authRoutes(deps: {
  auth: AuthService;
  guard: Pick<AuthGuard, 'claims' | 'token'>;
  config: AuthConfig;
  requireStepUp: RequireStepUp;
}): { public: FastifyPluginAsyncZod; account: FastifyPluginAsyncZod } {
  const { auth, guard, config, requireStepUp } = deps;

  function setCookies(reply: FastifyReply, p: TokenPair): void {
    if (!config.cookies) return;
    reply.header('set-cookie', [
      cookieLine(ACCESS_COOKIE, p.access_token, p.expires_in),
      cookieLine(REFRESH_COOKIE, p.refresh_token, p.refresh_expires_in),
    ]);
  }
  function clearCookies(reply: FastifyReply): void {
    if (!config.cookies) return;
    reply.header('set-cookie', [
      cookieLine(ACCESS_COOKIE, '', 0),
      cookieLine(REFRESH_COOKIE, '', 0),
    ]);
  }

  const publicRoutes: FastifyPluginAsyncZod = async (app) => {
    app.post(
      '/auth/register',
      {
        config: { rateLimit: { max: config.registerMaxPerIp, timeWindow: 3_600_000 } },
        schema: {
          summary:
            'Create an account (the enclave hashes the password with Argon2id); with email confirmation: 202 for any address, and a code by mail',
          body: CredentialsBody,
          response: {
            201: z.object({ user_id: z.uuid() }).strict(),
            202: z.object({ accepted: z.literal(true) }).strict(),
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        if (config.requireEmailConfirmation) {
          await auth.registerPending(request.body.email, secretOf(request.body));
          return reply.code(202).send({ accepted: true as const });
        }
        const r = await auth.register(request.body.email, secretOf(request.body));
        return reply.code(201).send(r);
      },
    );

    app.post(
      '/auth/login',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Log in: a 15-minute ES256 access token and a single-use refresh token; with TOTP enrolled, also totp_code or recovery_code',
          body: LoginBody,
          response: { 200: TokenPairSchema.extend({ user_id: z.uuid() }).strict(), ...Errors },
        },
      },
      async (request, reply) => {
        const r = await auth.login(
          request.body.email,
          secretOf(request.body),
          secondOf(request.body),
        );
        setCookies(reply, r);
        return r;
      },
    );

    const WebAuthnBody = z.object({ response: WebAuthnJsonSchema }).strict();
    const Options = z.object({ options: z.record(z.string(), z.unknown()) }).strict();

    app.post(
      '/auth/passkeys/login/options',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary: 'Passkey login: WebAuthn request options with a challenge the enclave remembers',
          response: { 200: Options, 429: ErrorResponseSchema, 503: ErrorResponseSchema },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'no-store');
        return auth.passkeyLoginOptions();
      },
    );

    app.post(
      '/auth/passkeys/login/verify',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Passkey login: the assertion, verified in the enclave; the usual token pair (with TOTP enrolled and no user verification, also totp_code or recovery_code)',
          body: WebAuthnBody.extend(SecondFields).strict().refine(atMostOneSecond, oneSecond),
          response: { 200: TokenPairSchema.extend({ user_id: z.uuid() }).strict(), ...Errors },
        },
      },
      async (request, reply) => {
        const r = await auth.passkeyLogin(request.body.response, secondOf(request.body));
        setCookies(reply, r);
        return r;
      },
    );

    app.get(
      '/auth/siwe/nonce',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        // No HEAD route: the limit plugin would give it a budget of its own, next to GET's, for
        // the same nonce the enclave makes (HEAD here is a 404, counted in the global budget).
        exposeHeadRoute: false,
        schema: {
          summary: 'Sign-In with Ethereum: a single-use nonce made and remembered by the enclave',
          response: {
            200: z.object({ nonce: z.string(), expires_at: z.number().int() }).strict(),
            429: ErrorResponseSchema,
            503: ErrorResponseSchema,
          },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'no-store');
        return auth.siweNonce();
      },
    );

    app.post(
      '/auth/siwe/login',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Sign-In with Ethereum (EIP-4361): the signed message; the first login creates the account',
          body: SiweLoginBody.extend(SecondFields).strict().refine(atMostOneSecond, oneSecond),
          response: {
            200: TokenPairSchema.extend({ user_id: z.uuid(), created: z.boolean() }).strict(),
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const r = await auth.siweLogin(b.message, b.signature, secondOf(b));
        setCookies(reply, r);
        return r;
      },
    );

    app.post(
      '/auth/register/confirm',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Confirm a registration with the code mailed to its address and the password it was registered with',
          body: ResetBody,
          response: { 200: z.object({ user_id: z.uuid() }).strict(), ...Errors },
        },
      },
      async (request) =>
        auth.confirmRegistration(request.body.email, request.body.code, secretOf(request.body)),
    );

    /** A route that has the enclave mail a code: per-address hourly limit, always 202. */
    const mailedCodeRoute = (
      path: string,
      summary: string,
      send: (email: string) => Promise<void>,
    ) =>
      app.post(
        path,
        {
          config: { rateLimit: { max: config.registerMaxPerIp, timeWindow: 3_600_000 } },
          schema: {
            summary,
            body: z.object({ email: EmailSchema }).strict(),
            response: {
              202: z.object({ accepted: z.literal(true) }).strict(),
              400: ErrorResponseSchema,
              429: ErrorResponseSchema,
            },
          },
        },
        async (request, reply) => {
          await send(request.body.email);
          return reply.code(202).send({ accepted: true as const });
        },
      );

    mailedCodeRoute(
      '/auth/otp/start',
      'Email one-time code: the enclave mails a 6-digit code; always 202 (reveals nothing)',
      (email) => auth.otpStart(email),
    );

    app.post(
      '/auth/otp/verify',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Email one-time code: the code → the token pair; the first login creates the account',
          body: z
            .object({ email: EmailSchema, code: z.string().regex(/^\d{6}$/), ...SecondFields })
            .strict()
            .refine(atMostOneSecond, oneSecond),
          response: {
            200: TokenPairSchema.extend({ user_id: z.uuid(), created: z.boolean() }).strict(),
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const r = await auth.otpVerify(b.email, b.code, secondOf(b));
        setCookies(reply, r);
        return r;
      },
    );

    mailedCodeRoute(
      '/auth/password/reset/start',
      'Forgotten password: the enclave mails a reset code; always 202',
      (email) => auth.passwordResetStart(email),
    );

    app.post(
      '/auth/password/reset',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary: 'Forgotten password: the mailed code and the new password; every session ends',
          body: ResetBody,
          response: { 200: z.object({ success: z.literal(true) }).strict(), ...Errors },
        },
      },
      async (request) => {
        const b = request.body;
        await auth.passwordReset(b.email, b.code, secretOf(b));
        return { success: true as const };
      },
    );

    mailedCodeRoute(
      '/auth/recovery/start',
      'Account recovery (lost password or device): the enclave mails a recovery code; always 202',
      (email) => auth.recoveryStart(email),
    );

    app.post(
      '/auth/recovery/confirm',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Account recovery: the mailed code and a new password; reset at once, or time-locked (AUTH_RECOVERY_DELAY_SECONDS) when a second factor is enrolled',
          body: ResetBody,
          response: {
            200: z
              .object({
                status: z.enum(['reset', 'pending']),
                unlock_at: z.string().optional(),
                completion_code: RecoveryCompletionCode.optional(),
              })
              .strict(),
            ...Errors,
          },
        },
      },
      async (request) => {
        const b = request.body;
        return auth.recoveryConfirm(b.email, b.code, secretOf(b));
      },
    );

    app.post(
      '/auth/recovery/complete',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Account recovery: after the unlock time, the new password takes effect, the second factor is removed and every session ends',
          body: z.object({ email: EmailSchema, completion_code: RecoveryCompletionCode }).strict(),
          response: SuccessOrNotFound,
        },
      },
      async (request) => {
        await auth.recoveryComplete(request.body.email, request.body.completion_code);
        return { success: true as const };
      },
    );

    app.get(
      '/auth/recovery',
      {
        schema: {
          summary: "The account's pending recovery, if any (any logged-in session sees it)",
          response: {
            200: z
              .object({
                pending: z
                  .object({ unlock_at: z.string(), can_complete: z.boolean() })
                  .strict()
                  .nullable(),
              })
              .strict(),
            ...Errors,
          },
        },
      },
      async (request) => {
        const claims = await guard.claims(request);
        return { pending: await auth.recoveryStatus(claims.sub) };
      },
    );

    app.delete(
      '/auth/recovery',
      {
        schema: {
          summary: "Cancel the account's pending recovery, from any logged-in session (no step-up)",
          response: SuccessOrNotFound,
        },
      },
      async (request) => {
        const claims = await guard.claims(request);
        await auth.recoveryCancel(claims.sub);
        return { success: true as const };
      },
    );

    app.post(
      '/auth/refresh',
      {
        config: { rateLimit: { max: config.loginMaxPerIp * 4, timeWindow: 60_000 } },
        schema: {
          summary: 'Rotate a refresh token: a new access token and a new refresh token',
          body: RefreshBody.nullish(),
          response: { 200: TokenPairSchema, ...Errors },
        },
      },
      async (request, reply) => {
        const token =
          request.body?.refresh_token ??
          (config.cookies ? readCookie(request, REFRESH_COOKIE) : undefined);
        if (!token || !RefreshTokenSchema.safeParse(token).success)
          throw new HostError('AUTH_REFRESH_INVALID');
        const r = await auth.refresh(token);
        setCookies(reply, r);
        return r;
      },
    );

    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          summary: 'The ES256 keys that sign access tokens (kid = RFC 7638 thumbprint)',
          response: { 200: JwksSchema },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'public, max-age=60');
        return auth.jwks();
      },
    );

    app.get(
      '/.well-known/openid-configuration',
      {
        schema: {
          summary: 'Issuer metadata, so standard libraries find the JWKS',
          response: {
            200: z
              .object({
                issuer: z.string(),
                jwks_uri: z.string(),
                id_token_signing_alg_values_supported: z.array(z.string()),
                token_endpoint: z.string(),
                response_types_supported: z.array(z.string()),
                subject_types_supported: z.array(z.string()),
                grant_types_supported: z.array(z.string()),
              })
              .strict(),
          },
        },
      },
      async () => {
        const base = config.issuer.replace(/\/+$/, '');
        return {
          issuer: config.issuer,
          jwks_uri: `${base}/.well-known/jwks.json`,
          id_token_signing_alg_values_supported: ['ES256'],
          token_endpoint: `${base}/auth/login`,
          response_types_supported: ['token'],
          subject_types_supported: ['public'],
          grant_types_supported: ['password', 'refresh_token'],
        };
      },
    );
  };

  const accountRoutes: FastifyPluginAsyncZod = async (app) => {
    app.get(
      '/auth/methods',
      {
        schema: {
          summary:
            "This account's login methods (password, emails, Ethereum addresses, passkeys) and whether an authenticator app (TOTP) is enrolled",
          response: {
            200: z
              .object({
                methods: z.array(
                  z
                    .object({
                      id: z.string(),
                      kind: z.string(),
                      identifier: z.string().nullable(),
                      created_at: z.number().int(),
                    })
                    .strict(),
                ),
                totp: z.boolean(),
              })
              .strict(),
            401: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        const claims = await guard.claims(request);
        const [methods, totp] = await Promise.all([
          auth.listMethods(claims.sub),
          auth.totpEnrolled(claims.sub),
        ]);
        return { methods, totp };
      },
    );

    app.post(
      '/auth/methods/link',
      {
        preHandler: requireStepUp(),
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Link a login method with proof of it: an Ethereum address (a SIWE message it signed), a password (the account has none), or an email (the code from POST /auth/methods/link/email/start)',
          body: z
            .object({
              siwe: SiweLoginBody.optional(),
              password: NewPassword.optional(),
              email: z
                .object({ email: EmailSchema, code: z.string().regex(/^\d{6}$/) })
                .strict()
                .optional(),
            })
            .strict()
            .refine(
              (b) => [b.siwe, b.password, b.email].filter((v) => v !== undefined).length === 1,
              { message: 'send exactly one of siwe, password and email', path: ['siwe'] },
            ),
          response: {
            201: z.object({ id: z.union([z.uuid(), z.literal('password')]) }).strict(),
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        const claims = await guard.claims(request);
        const token = guard.token(request);
        const { siwe, password, email } = request.body;
        const r = siwe
          ? await auth.linkSiwe(token, claims.sub, siwe.message, siwe.signature)
          : password !== undefined
            ? await auth.linkPassword(token, claims.sub, newSecretOf(password))
            : await auth.linkEmail(token, claims.sub, email!.email, email!.code);
        return reply.code(201).send(r);
      },
    );

    app.post(
      '/auth/methods/link/email/start',
      {
        preHandler: requireStepUp(),
        config: { rateLimit: { max: config.registerMaxPerIp, timeWindow: 3_600_000 } },
        schema: {
          summary:
            'Link an email, step 1: the enclave mails a code bound to this account and address; always 202',
          body: z.object({ email: EmailSchema }).strict(),
          response: { 202: z.object({ accepted: z.literal(true) }).strict(), ...Errors },
        },
      },
      async (request, reply) => {
        await guard.claims(request);
        await auth.linkEmailStart(guard.token(request), request.body.email);
        return reply.code(202).send({ accepted: true as const });
      },
    );

    app.post(
      '/auth/password/change',
      {
        preHandler: requireStepUp(),
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            "Change the account's password (hashed and sealed in the enclave); every other session ends",
          body: z.object({ password: NewPassword }).strict(),
          response: {
            200: z.object({ success: z.literal(true), revoked: z.number().int() }).strict(),
            404: ErrorResponseSchema,
            ...Errors,
          },
        },
      },
      async (request) => {
        const claims = await guard.claims(request);
        const { revoked } = await auth.changePassword(
          guard.token(request),
          claims.sub,
          claims.sid,
          newSecretOf(request.body.password),
        );
        return { success: true as const, revoked };
      },
    );

    app.delete(
      '/auth/methods/:id',
      {
        preHandler: requireStepUp(),
        schema: {
          summary: 'Unlink a login method (`password` or a method id); never the last one',
          params: z.object({ id: z.union([z.literal('password'), z.uuid()]) }).strict(),
          response: {
            200: z.object({ success: z.literal(true) }).strict(),
            401: ErrorResponseSchema,
            404: ErrorResponseSchema,
            409: ErrorResponseSchema,
            429: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        const claims = await guard.claims(request);
        await auth.unlinkMethod(claims.sub, request.params.id);
        return { success: true as const };
      },
    );

    app.post(
      '/auth/passkeys/register/options',
      {
        preHandler: requireStepUp(),
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Passkey registration: WebAuthn creation options (attestation none) with a challenge the enclave remembers for this account',
          body: z.object({ user_name: z.string().min(1).max(128).optional() }).strict(),
          response: {
            200: z.object({ options: z.record(z.string(), z.unknown()) }).strict(),
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const claims = await guard.claims(request);
        return auth.passkeyRegisterOptions(
          guard.token(request),
          claims.sub,
          request.body.user_name ?? claims.sub,
        );
      },
    );

    app.post(
      '/auth/passkeys/register/verify',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Passkey registration: the attestation, verified in the enclave; links the passkey',
          body: z.object({ response: WebAuthnJsonSchema }).strict(),
          response: { 201: z.object({ id: z.uuid() }).strict(), ...Errors },
        },
      },
      async (request, reply) => {
        const claims = await guard.claims(request);
        const r = await auth.passkeyRegisterVerify(
          guard.token(request),
          claims.sub,
          request.body.response,
        );
        return reply.code(201).send(r);
      },
    );

    app.post(
      '/auth/totp/enroll',
      {
        preHandler: requireStepUp(),
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Start TOTP enrolment: the enclave draws a secret, seals it to the account and returns it once as an otpauth URI',
          body: z
            .object({
              label: z
                .string()
                .regex(/^[^\s:]{1,128}$/)
                .optional(),
            })
            .strict(),
          response: { 201: z.object({ otpauth_uri: z.string() }).strict(), ...Errors },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const claims = await guard.claims(request);
        const label = request.body.label ?? 'account';
        return reply.code(201).send(await auth.enrollTotp(guard.token(request), claims.sub, label));
      },
    );

    app.post(
      '/auth/totp/confirm',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            'Confirm TOTP enrolment with a code from the app; answers the 10 recovery codes, once',
          body: z.object({ code: TotpCode }).strict(),
          response: {
            200: z.object({ recovery_codes: z.array(z.string()) }).strict(),
            404: ErrorResponseSchema,
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const claims = await guard.claims(request);
        return auth.confirmTotp(guard.token(request), claims.sub, request.body.code);
      },
    );

    app.delete(
      '/auth/totp',
      {
        preHandler: requireStepUp(),
        schema: {
          summary: 'Remove the authenticator app and its recovery codes',
          response: SuccessOrNotFound,
        },
      },
      async (request) => {
        const claims = await guard.claims(request);
        await auth.removeTotp(claims.sub);
        return { success: true as const };
      },
    );

    app.post(
      '/auth/step-up/email/start',
      {
        config: { rateLimit: { max: config.registerMaxPerIp, timeWindow: 3_600_000 } },
        schema: {
          summary:
            "Step-up by email (accounts without TOTP): the enclave mails a code to the account's email",
          response: { 202: z.object({ accepted: z.literal(true) }).strict(), ...SuccessOrNotFound },
        },
      },
      async (request, reply) => {
        const claims = await guard.claims(request);
        await auth.stepUpEmailStart(claims.sub);
        return reply.code(202).send({ accepted: true as const });
      },
    );

    app.post(
      '/auth/step-up/passkey/options',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            "Step-up by passkey: WebAuthn request options for this account's passkeys, with a challenge the enclave remembers for this account",
          response: {
            200: z.object({ options: z.record(z.string(), z.unknown()) }).strict(),
            404: ErrorResponseSchema,
            ...Errors,
          },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const claims = await guard.claims(request);
        return auth.passkeyStepUpOptions(guard.token(request), claims.sub);
      },
    );

    app.post(
      '/auth/step-up',
      {
        config: { rateLimit: { max: config.loginMaxPerIp, timeWindow: 60_000 } },
        schema: {
          summary:
            "Step up this session: with a second factor (totp_code, recovery_code) a new pair whose token's amr has otp and mfa; with a passkey assertion (POST /auth/step-up/passkey/options) amr hwk, and mfa when it verified the user or the session has another factor; without TOTP, an email_code from POST /auth/step-up/email/start (amr otp); always a fresh auth_time",
          body: z
            .object({
              totp_code: TotpCode.optional(),
              recovery_code: RecoveryCode.optional(),
              email_code: z
                .string()
                .regex(/^\d{6}$/)
                .optional(),
              passkey: WebAuthnJsonSchema.optional(),
            })
            .strict()
            .refine(
              (b) =>
                [b.totp_code, b.recovery_code, b.email_code, b.passkey].filter(
                  (v) => v !== undefined,
                ).length === 1,
              {
                message: 'send exactly one of totp_code, recovery_code, email_code and passkey',
                path: ['totp_code'],
              },
            ),
          response: { 200: TokenPairSchema, ...Errors },
        },
      },
      async (request, reply) => {
        const claims = await guard.claims(request);
        const { email_code: emailCode, passkey, ...second } = request.body;
        const token = guard.token(request);
        const r =
          passkey !== undefined
            ? await auth.passkeyStepUp(token, claims.sub, claims.roles, passkey)
            : emailCode !== undefined
              ? await auth.stepUpEmail(token, claims.sub, claims.roles, emailCode)
              : await auth.stepUp(token, claims.sub, claims.roles, secondOf(second)!);
        setCookies(reply, r);
        return r;
      },
    );

    app.post(
      '/auth/logout',
      {
        schema: {
          summary: "End this access token's session (its refresh token stops working)",
          response: {
            200: z.object({ success: z.literal(true) }).strict(),
            401: ErrorResponseSchema,
          },
        },
      },
      async (request, reply) => {
        const claims = await guard.claims(request);
        await auth.logout(claims.sub, claims.sid);
        clearCookies(reply);
        return { success: true as const };
      },
    );

    app.post(
      '/auth/logout-all',
      {
        schema: {
          summary: 'End every session of this account',
          response: {
            200: z.object({ success: z.literal(true), revoked: z.number().int() }).strict(),
            401: ErrorResponseSchema,
          },
        },
      },
      async (request, reply) => {
        const claims = await guard.claims(request);
        const revoked = await auth.logoutAll(claims.sub);
        clearCookies(reply);
        return { success: true as const, revoked };
      },
    );
  };
  return { public: publicRoutes, account: accountRoutes };
}
