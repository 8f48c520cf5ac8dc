/**
 * Operator endpoints (seed 001 "Access Control"): list sessions and their metadata, revoke any
 * session, roll the JWT signing keys over, grant or revoke the operator role, read metrics. Every one needs an access token with
 * the `operator` role claim (granted with `npm run operator -- grant <email>`, docs/reference/http-api.md): app.ts
 * registers this plugin inside the operator context, whose hook refuses anyone else.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EmailSchema } from '../../../protocol/auth.js';
import type { AuthService } from '../../auth/auth-service.js';
import type { RequireStepUp } from '../../auth/step-up.js';
import type { AuthGuard } from '../../auth/guard.js';
import type { OperatorRepository } from '../../db/repositories/operator.js';
import type { CredentialService } from '../../services/credential-service.js';
import { ErrorResponseSchema, RevokeResponseSchema, SessionParamsSchema } from '../schemas.js';

const Denied = { 401: ErrorResponseSchema, 403: ErrorResponseSchema };

export function operatorRoutes(deps: {
  auth: AuthService;
  guard: Pick<AuthGuard, 'claims'>;
  credentials: CredentialService;
  repo: Pick<OperatorRepository, 'listSessions' | 'counts'>;
  enclaveStats: () => Promise<Record<string, number>>;
  /** Step-up for key rotation and role changes (a recent login, auth/step-up.ts). */
  requireStepUp: RequireStepUp;
}): FastifyPluginAsyncZod {
  const { guard } = deps;
  return async (app) => {
    app.get(
      '/operator/sessions',
      {
        schema: {
          summary: 'Credential sessions and their metadata (no ciphertext), newest first',
          querystring: z
            .object({ limit: z.coerce.number().int().min(1).max(1000).default(100) })
            .strict(),
          response: {
            200: z.object({
              sessions: z.array(
                z.object({
                  session_id: z.uuid(),
                  user_id: z.uuid().nullable(),
                  exchange: z.string(),
                  label: z.string(),
                  status: z.string(),
                  created_at: z.string(),
                  expires_at: z.string(),
                }),
              ),
            }),
            ...Denied,
          },
        },
      },
      async (request) => {
        const rows = await deps.repo.listSessions(request.query.limit);
        return {
          sessions: rows.map((r) => ({
            ...r,
            created_at: new Date(r.created_at).toISOString(),
            expires_at: new Date(r.expires_at).toISOString(),
          })),
        };
      },
    );

    app.post(
      '/operator/sessions/:session_id/revoke',
      {
        schema: {
          summary: 'Revoke any session and purge its ciphertext (logged)',
          params: SessionParamsSchema,
          response: { 200: RevokeResponseSchema, 404: ErrorResponseSchema, ...Denied },
        },
      },
      async (request) => {
        const operator = await guard.claims(request);
        return deps.credentials.revoke(request.params.session_id, operator.sub);
      },
    );

    app.post(
      '/operator/auth/rotate-keys',
      {
        preHandler: deps.requireStepUp(),
        schema: {
          summary: 'Roll the JWT signing key over now (the new key is published before it signs)',
          response: {
            200: z.object({ generation: z.number().int(), kid: z.string() }).strict(),
            ...Denied,
          },
        },
      },
      async (request) => {
        return deps.auth.rotateKeys((await guard.claims(request)).sub);
      },
    );

    for (const action of ['grant', 'revoke'] as const) {
      app.post(
        `/operator/roles/${action}`,
        {
          preHandler: deps.requireStepUp(),
          schema: {
            summary: `${action === 'grant' ? 'Grant' : 'Revoke'} the operator role (logged with who did it)`,
            body: z.object({ email: EmailSchema }).strict(),
            response: {
              200: z.object({ user_id: z.uuid() }).strict(),
              404: ErrorResponseSchema,
              ...Denied,
            },
          },
        },
        async (request) => {
          const operator = await guard.claims(request);
          // A revocation names only a holder of the role; anyone else is USER_NOT_FOUND, as no
          // account (repositories/auth.ts revokeRole).
          return deps.auth.setRole(action, request.body.email, 'operator', operator.sub);
        },
      );
    }

    app.get(
      '/operator/metrics',
      {
        schema: {
          summary: 'Counters: users, sessions, Argon2id work and queue',
          response: { 200: z.record(z.string(), z.number()), ...Denied },
        },
      },
      async () => {
        return { ...(await deps.repo.counts()), ...(await deps.enclaveStats()) };
      },
    );
  };
}
