/**
 * Cluster routes (docs/protocol/cluster.md). Genesis needs the operator role. The manifest is
 * public (it names no secret). Share submission needs no token: the submission is HPKE-sealed
 * to the enclave's one-time provisioning key and the enclave checks every share against the
 * manifest; the host can only relay it or drop it.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ApprovalSchema,
  ProposalSchema,
  ForwardSchema,
  GenesisAttestationSchema,
  JoinRequestSchema,
  ManifestSchema,
  operatorListSchema,
  ShareSubmissionSchema,
  MAX_OPERATORS,
} from '../../../protocol/cluster/cluster.js';
import { randomBytes } from 'node:crypto';
import { AttestationNonceSchema } from '../../../protocol/attestation/report-data.js';
import { IdentityHexSchema } from '../../../protocol/attestation/response.js';
import { base64Bytes } from '../../../protocol/encoding.js';
import type { AuthGuard } from '../../auth/guard.js';
import type { ClusterService } from '../../cluster/cluster-service.js';
import type { EnclaveSupervisor } from '../../enclave-client/supervisor.js';
import { HostError } from '../../errors.js';
import type { LogService } from '../../log/log-service.js';
import { ErrorResponseSchema } from '../schemas.js';

export const GenesisRequestSchema = z
  .object({
    operators: operatorListSchema(2),
    threshold: z.number().int().min(2).max(MAX_OPERATORS),
    /** Accepted measurements; default: the running enclave's. */
    measurements: z.array(IdentityHexSchema).min(1).max(64).optional(),
    allow_debug: z.boolean().optional(),
    /** `simulated` only: vendor keys of the machines that may join (docs/protocol/cluster.md). */
    simulated_vendor_keys: z.array(base64Bytes(32)).max(64).optional(),
    /** The operator's nonce for the genesis evidence; the host picks one if none is sent. */
    nonce: AttestationNonceSchema.optional(),
  })
  .strict()
  .refine((b) => b.threshold <= b.operators.length, {
    message: 'threshold above the number of operators',
  });

/**
 * Two plugins: `operator` (genesis, reshare: registered in app.ts's operator context, so the
 * role is checked before the body is read) and `public` (the manifest, a peer's join and the
 * operators' share submissions: what a locked instance must answer to anyone; each is checked
 * by the enclave against the manifest, not by a token).
 */
export function clusterRoutes(deps: {
  cluster: ClusterService;
  guard: AuthGuard;
  enclave: Pick<EnclaveSupervisor, 'call' | 'restart'>;
  log: Pick<LogService, 'commit'>;
}): { operator: FastifyPluginAsyncZod; public: FastifyPluginAsyncZod } {
  const operator: FastifyPluginAsyncZod = async (app) => {
    app.get(
      '/cluster/members',
      {
        schema: {
          summary:
            'Members recorded in the shared database (CLUSTER_ADVERTISE_URL), most recently seen first',
          response: {
            200: z.object({
              members: z.array(
                z
                  .object({ url: z.string(), measurement: z.string(), seen_at: z.string() })
                  .strict(),
              ),
            }),
            401: ErrorResponseSchema,
            403: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        await deps.guard.operator(request);
        return { members: await deps.cluster.members() };
      },
    );

    app.post(
      '/cluster/genesis',
      {
        schema: {
          summary: 'Genesis: wrap the keyring under a new cluster root; age-encrypted shares',
          body: GenesisRequestSchema,
          response: {
            200: z.object({
              manifest: ManifestSchema,
              manifest_digest: z.string(),
              attestation: GenesisAttestationSchema,
              shares: z.array(
                z.object({ operator: z.string(), index: z.number(), file: z.string() }),
              ),
            }),
            401: ErrorResponseSchema,
            403: ErrorResponseSchema,
            409: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        await deps.guard.operator(request);
        const b = request.body;
        const status = await deps.enclave.call('enclave.status', {});
        return deps.cluster.genesis(deps.enclave, deps.log, {
          operators: b.operators,
          threshold: b.threshold,
          measurements: b.measurements ?? [status.measurement],
          // Simulated evidence is always debug: a simulated cluster must allow it.
          platform: {
            name: status.platform,
            allow_debug: b.allow_debug ?? status.platform === 'simulated',
            ...(b.simulated_vendor_keys ? { simulated_vendor_keys: b.simulated_vendor_keys } : {}),
          },
          nonce: b.nonce ?? randomBytes(32).toString('base64url'),
        });
      },
    );
    app.post(
      '/cluster/reshare',
      {
        schema: {
          summary: 'Reshare / change the manifest: approved by a threshold of current operators',
          body: z
            .object({
              proposal: ProposalSchema,
              approvals: z.array(ApprovalSchema).min(1).max(MAX_OPERATORS),
              /** The operator's nonce for the reshare evidence; the host picks one if none. */
              nonce: AttestationNonceSchema.optional(),
            })
            .strict(),
          response: {
            200: z.object({
              manifest: ManifestSchema,
              manifest_digest: z.string(),
              attestation: GenesisAttestationSchema,
              shares: z.array(
                z.object({ operator: z.string(), index: z.number(), file: z.string() }),
              ),
            }),
            401: ErrorResponseSchema,
            403: ErrorResponseSchema,
            409: ErrorResponseSchema,
          },
        },
      },
      async (request) => {
        await deps.guard.operator(request);
        const b = request.body;
        return deps.cluster.reshare(deps.enclave, deps.log, {
          proposal: b.proposal,
          approvals: b.approvals,
          nonce: b.nonce ?? randomBytes(32).toString('base64url'),
        });
      },
    );
  };
  const open: FastifyPluginAsyncZod = async (app) => {
    app.get(
      '/cluster/manifest',
      {
        schema: {
          summary: 'The cluster manifest of the newest split, and its digest',
          response: {
            200: z.object({ manifest: ManifestSchema, digest: z.string() }),
            404: ErrorResponseSchema,
          },
        },
      },
      async () => {
        const m = await deps.cluster.manifest();
        if (!m) throw new HostError('NOT_FOUND');
        return m;
      },
    );
    app.post(
      '/cluster/join',
      {
        schema: {
          summary:
            'Join: a new enclave’s provisioning quote; the root for it if the manifest agrees',
          body: JoinRequestSchema,
          response: { 200: ForwardSchema, 403: ErrorResponseSchema, 503: ErrorResponseSchema },
        },
      },
      async (request) => deps.cluster.forward(deps.enclave, deps.log, request.body),
    );
    app.post(
      '/cluster/shares',
      {
        schema: {
          summary: 'One operator share, HPKE-sealed to the provisioning key of the quote',
          body: ShareSubmissionSchema,
          response: {
            200: z.object({
              index: z.number(),
              operator: z.string(),
              have: z.number(),
              threshold: z.number(),
            }),
            409: ErrorResponseSchema,
            422: ErrorResponseSchema,
          },
        },
      },
      async (request) => deps.cluster.submitShare(request.body),
    );
  };
  return { operator, public: open };
}
