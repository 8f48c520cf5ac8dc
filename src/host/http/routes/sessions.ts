/**
 * The seed's enclave routes: POST /enclave/submit_key, POST /enclave/revoke, and
 * GET /enclave/sessions/:session_id (status, with the enclave's check of the stored credential).
 * Registered inside app.ts's authenticated context, whose hook has checked the token already.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SessionAccess } from '../../auth/session-access.js';
import type { CredentialService } from '../../services/credential-service.js';
import {
  ErrorResponseSchema,
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
