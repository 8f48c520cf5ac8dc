/**
 * Operator endpoints (seed 001 "Access Control"): list sessions and their metadata, revoke any
 * session, roll the JWT signing keys over, read metrics. Every one needs an access token with
 * the `operator` role claim (granted with `cloister-migrate operator grant <email>`, README).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuthService } from '../../auth/auth-service.js';
import type { AuthGuard } from '../../auth/guard.js';
import type { Queryable } from '../../db/database.js';
import type { CredentialService } from '../../services/credential-service.js';
import { ErrorResponseSchema, RevokeResponseSchema, SessionParamsSchema } from '../schemas.js';

const Denied = { 401: ErrorResponseSchema, 403: ErrorResponseSchema };

export function operatorRoutes(deps: {
  auth: AuthService;
  guard: AuthGuard;
  credentials: CredentialService;
  db: Pick<Queryable, 'query'>;
  enclaveStats: () => Promise<Record<string, number>>;
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
        await guard.operator(request);
        const { rows } = await deps.db.query<{
          session_id: string;
          user_id: string | null;
          exchange: string;
          label: string;
          status: string;
          created_at: Date;
          expires_at: Date;
        }>(
          `SELECT id AS session_id, user_id, exchange, label, status, created_at, expires_at
           FROM sessions ORDER BY created_at DESC LIMIT $1`,
          [request.query.limit],
        );
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
        await guard.operator(request);
        return deps.credentials.revoke(request.params.session_id);
      },
    );

    app.post(
      '/operator/auth/rotate-keys',
      {
        schema: {
          summary: 'Roll the JWT signing key over now (the new key is published before it signs)',
          response: {
            200: z.object({ generation: z.number().int(), kid: z.string() }).strict(),
            ...Denied,
          },
        },
      },
      async (request) => {
        await guard.operator(request);
        return deps.auth.rotateKeys();
      },
    );

    app.get(
      '/operator/metrics',
      {
        schema: {
          summary: 'Counters: users, sessions, Argon2id work and queue',
          response: { 200: z.record(z.string(), z.number()), ...Denied },
        },
      },
      async (request) => {
        await guard.operator(request);
        const { rows } = await deps.db.query<{
          users: number;
          active_sessions: number;
          login_sessions: number;
        }>(
          `SELECT (SELECT count(*) FROM users)::int AS users,
                  (SELECT count(*) FROM sessions WHERE status = 'active')::int AS active_sessions,
                  (SELECT count(*) FROM auth_sessions WHERE revoked_at IS NULL)::int AS login_sessions`,
        );
        return { ...rows[0]!, ...(await deps.enclaveStats()) };
      },
    );
  };
}
