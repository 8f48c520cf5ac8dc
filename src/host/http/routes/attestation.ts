/**
 * GET /attestation/quote: the enclave's evidence and keys (docs/protocol/attestation-response.md);
 * while the instance awaits its cluster quorum, the provisioning quote instead
 * (docs/protocol/cluster.md), which binds the one-time provisioning key. The header
 * `Cloister-Envelope-Not-Before` carries the enclave's earliest accepted envelope issued_at: an
 * unsigned liveness hint (the enclave enforces the rule; SECURITY.md "Replay across restarts"),
 * outside the body so that strict verifiers of the body keep working.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AttestationResponseSchema } from '../../../protocol/attestation/response.js';
import { ProvisioningQuoteSchema } from '../../../protocol/cluster/cluster.js';
import type { ClusterService } from '../../cluster/cluster-service.js';
import type { AttestationService } from '../../services/attestation-service.js';
import { ErrorResponseSchema, QuoteQuerySchema } from '../schemas.js';
import { ENVELOPE_NOT_BEFORE_HEADER } from '../../../protocol/envelope/not-before.js';

export function attestationRoutes(deps: {
  attestation: AttestationService;
  cluster: Pick<ClusterService, 'isLocked' | 'quote'>;
  envelopeNotBefore?: () => number | undefined;
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
      async (request, reply) => {
        if (deps.cluster.isLocked()) return deps.cluster.quote(request.query.nonce);
        const quote = await deps.attestation.quote(request.query.nonce);
        const notBefore = deps.envelopeNotBefore?.();
        if (notBefore !== undefined)
          void reply.header(ENVELOPE_NOT_BEFORE_HEADER, String(notBefore));
        return quote;
      },
    );
  };
}
