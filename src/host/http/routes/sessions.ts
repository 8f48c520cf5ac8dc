/**
 * The seed's enclave routes: POST /enclave/submit_key, POST /enclave/revoke, and
 * GET /enclave/sessions/:session_id (status, with the enclave's check of the stored credential);
 * and GET /enclave/sessions, the caller's own sessions (metadata, no enclave call per row).
 * Registered inside app.ts's authenticated context, whose hook has checked the token already.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SessionAccess } from '../../auth/session-access.js';
import type { OperatorRepository } from '../../db/repositories/operator.js';
import { HostError } from '../../errors.js';
import type { CredentialService } from '../../services/credential-service.js';
import {
  ErrorResponseSchema,
  OwnSessionsQuerySchema,
  OwnSessionsResponseSchema,
  RevokeBodySchema,
  RevokeResponseSchema,
  SessionParamsSchema,
  SessionStatusResponseSchema,
  SubmitKeyResponseSchema,
  submitKeyBodySchema,
} from '../schemas.js';

export function sessionRoutes(deps: {
  credentials: CredentialService;
  maxTtlSeconds: number;
  /** Ownership (docs/protocol/auth.md). */
  access: Pick<SessionAccess, 'owner' | 'checkSession'>;
  owned: Pick<OperatorRepository, 'userSessions'>;
}): FastifyPluginAsyncZod {
  const SubmitBody = submitKeyBodySchema(deps.maxTtlSeconds);
  return async (app) => {
    app.post(
      '/enclave/submit_key',
      {
        schema: {
          summary: 'Submit exchange credentials encrypted to the enclave key',
          body: SubmitBody,
          response: {
            200: SubmitKeyResponseSchema,
            400: ErrorResponseSchema,
            403: ErrorResponseSchema,
            409: ErrorResponseSchema,
            503: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        const owner = await deps.access.owner(request);
        const { metadata, ...envelope } = request.body;
        return deps.credentials.submit(envelope, metadata, owner);
      },
    );

    app.post(
      '/enclave/revoke',
      {
        schema: {
          summary: 'Revoke a session and purge its ciphertext',
          body: RevokeBodySchema,
          response: { 200: RevokeResponseSchema, 404: ErrorResponseSchema },
        },
      },
      async (request) => {
        await deps.access.checkSession(request, request.body.session_id);
        return deps.credentials.revoke(request.body.session_id);
      },
    );

    app.get(
      '/enclave/sessions',
      {
        schema: {
          summary: "The caller's own sessions, newest first (metadata only)",
          querystring: OwnSessionsQuerySchema,
          response: { 200: OwnSessionsResponseSchema, 401: ErrorResponseSchema },
        },
      },
      async (request) => {
        // Without an account (development mode, no token) nothing is listed: ownerless sessions
        // are reachable by id only, and their ids are the capability.
        const owner = await deps.access.owner(request);
        if (owner === null) throw new HostError('AUTH_REQUIRED');
        const rows = await deps.owned.userSessions(owner, request.query.limit);
        const now = Date.now();
        return {
          sessions: rows.map((r) => {
            const expires = new Date(r.expires_at);
            return {
              session_id: r.session_id,
              exchange: r.exchange,
              label: r.label,
              // Past its expiry a session is expired now, whether or not the sweeper has run.
              status: (r.status === 'active' && expires.getTime() <= now ? 'expired' : r.status) as
                'active' | 'revoked' | 'expired' | 'invalid',
              created_at: new Date(r.created_at).toISOString(),
              expires_at: expires.toISOString(),
            };
          }),
        };
      },
    );

    app.get(
      '/enclave/sessions/:session_id',
      {
        schema: {
          summary: 'Session status; for an active session the enclave checks its stored credential',
          params: SessionParamsSchema,
          response: {
            200: SessionStatusResponseSchema,
            404: ErrorResponseSchema,
            503: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        await deps.access.checkSession(request, request.params.session_id);
        return deps.credentials.status(request.params.session_id);
      },
    );
  };
}
