/**
 * GET /attestation/quote: the enclave's evidence and keys (docs/protocol/attestation-response.md);
 * while the instance awaits its cluster quorum, the provisioning quote instead
 * (docs/protocol/cluster.md), which binds the one-time provisioning key.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AttestationResponseSchema } from '../../../protocol/attestation/response.js';
import { ProvisioningQuoteSchema } from '../../../protocol/cluster/cluster.js';
import type { ClusterService } from '../../cluster/cluster-service.js';
import type { AttestationService } from '../../services/attestation-service.js';
import { ErrorResponseSchema, QuoteQuerySchema } from '../schemas.js';

export function attestationRoutes(deps: {
  attestation: AttestationService;
  cluster: Pick<ClusterService, 'isLocked' | 'quote'>;
}): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/attestation/quote',
      {
        schema: {
          summary: 'Attestation evidence binding the enclave keys and your nonce',
          querystring: QuoteQuerySchema,
          response: {
            200: z.union([AttestationResponseSchema, ProvisioningQuoteSchema]),
            503: ErrorResponseSchema,
          },
        },
      },
      async (request) =>
        deps.cluster.isLocked()
          ? deps.cluster.quote(request.query.nonce)
          : deps.attestation.quote(request.query.nonce),
    );
  };
}
