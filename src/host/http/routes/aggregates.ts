/**
 * POST /enclave/request_aggregates (the seed's route) and GET /enclave/aggregates/jobs/:job_id.
 * A result ready within the wait answers 200 with the signed aggregates and the checkpoint that
 * logs them; a longer fetch (or a job queued for a slot) answers 202 with the job to poll. A
 * failed job answers its error; a job cancelled by its session's revocation answers 410 with
 * status `cancelled`. A user or session at its job cap gets 429, a full queue 503.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { SessionAccess } from '../../auth/session-access.js';
import type { AggregatesService, JobAnswer } from '../../services/aggregates-service.js';
import {
  AggregatesCancelledResponseSchema,
  AggregatesDoneResponseSchema,
  AggregatesRunningResponseSchema,
  ErrorResponseSchema,
  JobParamsSchema,
  RequestAggregatesBodySchema,
} from '../schemas.js';

const responses = {
  200: AggregatesDoneResponseSchema,
  202: AggregatesRunningResponseSchema,
  400: ErrorResponseSchema,
  404: ErrorResponseSchema,
  410: AggregatesCancelledResponseSchema,
  422: ErrorResponseSchema,
  429: ErrorResponseSchema,
  502: ErrorResponseSchema,
  503: ErrorResponseSchema,
  504: ErrorResponseSchema,
};

export function aggregatesRoutes(deps: {
  aggregates: AggregatesService;
  /** Only a session's owner may request or poll its aggregates (docs/protocol/auth.md). */
  access: Pick<SessionAccess, 'checkSession' | 'checkJob' | 'authenticate'>;
}): FastifyPluginAsyncZod {
  return async (app) => {
    const send = (reply: { code(n: number): unknown }, a: JobAnswer) => {
      reply.code(a.status === 'done' ? 200 : a.status === 'cancelled' ? 410 : 202);
      return a;
    };

    app.post(
      '/enclave/request_aggregates',
      {
        onRequest: deps.access.authenticate,
        schema: {
          summary: 'Signed performance aggregates computed in the enclave from the exchange',
          body: RequestAggregatesBodySchema,
          response: responses,
        },
      },
      async (request, reply) => {
        const { session_id, ...query } = request.body;
        await deps.access.checkSession(request, session_id);
        return send(reply, await deps.aggregates.request(session_id, query));
      },
    );

    app.get(
      '/enclave/aggregates/jobs/:job_id',
      {
        onRequest: deps.access.authenticate,
        schema: {
          summary: 'An aggregates job: its signed result, its progress, or its error',
          params: JobParamsSchema,
          response: responses,
        },
      },
      async (request, reply) => {
        await deps.access.checkJob(request, request.params.job_id);
        return send(reply, await deps.aggregates.job(request.params.job_id));
      },
    );
  };
}
