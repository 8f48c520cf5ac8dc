/** GET /attestation/quote: the enclave's evidence and keys (docs/protocol/attestation-response.md). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AttestationResponseSchema } from '../../../protocol/attestation/response.js';
import type { AttestationService } from '../../services/attestation-service.js';
import { ErrorResponseSchema, QuoteQuerySchema } from '../schemas.js';

export function attestationRoutes(deps: {
  attestation: AttestationService;
}): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/attestation/quote',
      {
        schema: {
          summary: 'Attestation evidence binding the enclave keys and your nonce',
          querystring: QuoteQuerySchema,
          response: { 200: AttestationResponseSchema, 503: ErrorResponseSchema },
        },
      },
      async (request) => deps.attestation.quote(request.query.nonce),
    );
  };
}
