/**
 * buildApp(deps): the Fastify instance with every plugin and route, not listening. main.ts
 * listens; tests call `app.inject()`. Limits, security headers, CORS and rate limiting are set
 * here, in one place, for every route.
 */
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Queryable } from './db/database.js';
import type { EnclaveSupervisor } from './enclave-client/supervisor.js';
import { HTTP_ERRORS, HostError } from './errors.js';
import { installErrorHandler } from './http/error-handler.js';
import { aggregatesRoutes } from './http/routes/aggregates.js';
import { attestationRoutes } from './http/routes/attestation.js';
import { authRoutes } from './http/routes/auth.js';
import { operatorRoutes } from './http/routes/operator.js';
import type { AuthService } from './auth/auth-service.js';
import type { AuthConfig } from './auth/config.js';
import type { AuthGuard } from './auth/guard.js';
import { createSessionAccess } from './auth/session-access.js';
import { healthRoutes } from './http/routes/health.js';
import { clusterRoutes } from './http/routes/cluster.js';
import type { ClusterService } from './cluster/cluster-service.js';
import { logRoutes } from './http/routes/log.js';
import { sessionRoutes } from './http/routes/sessions.js';
import type { AggregatesService } from './services/aggregates-service.js';
import type { AttestationService } from './services/attestation-service.js';
import type { CredentialService } from './services/credential-service.js';
import type { LogService } from './log/log-service.js';
import type { LogStore } from './log/log-store.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppDeps {
  config: Pick<Config, 'allowedOrigins' | 'rateLimit' | 'trustProxy' | 'maxTtlSeconds'>;
  logger: Logger;
  enclave: Pick<EnclaveSupervisor, 'isReady' | 'retryAfterSeconds' | 'call' | 'restart'>;
  db: Pick<Queryable, 'query'>;
  credentials: CredentialService;
  attestation: AttestationService;
  aggregates: AggregatesService;
  log: LogService;
  logStore: LogStore;
  redis?: Redis | undefined;
  auth: { service: AuthService; guard: AuthGuard; config: AuthConfig };
  cluster: ClusterService;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: deps.config.trustProxy,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 100 },
    // Random ids: a counter would tell one client how many requests others made.
    genReqId: () => randomUUID(),
    // Errors Fastify raises before routing (a malformed URL, a path parameter over the router's
    // limit) would otherwise get Fastify's own body, which echoes the path.
    frameworkErrors: (_err, _req, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .header('content-type', 'application/json; charset=utf-8')
        .send({
          error: {
            code: 'VALIDATION_FAILED',
            message: HTTP_ERRORS.VALIDATION_FAILED[1],
            details: [{ path: 'url', issue: 'invalid' }],
          },
        });
    },
  }).withTypeProvider<ZodTypeProvider>();
  // JSON only: a text/plain body is a CORS "simple request" a browser sends without preflight.
  app.removeContentTypeParser(['text/plain']);
  // The id ties a client's report of an error to the host's log line for it.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app, deps.enclave.retryAfterSeconds);
  // Awaiting the cluster quorum: only health, the provisioning quote and the cluster routes.
  app.addHook('onRequest', async (req) => {
    if (!deps.cluster.isLocked()) return;
    const path = req.url.split('?')[0] ?? '';
    if (['/healthz', '/readyz', '/attestation/quote'].includes(path)) return;
    if (path.startsWith('/cluster/')) return;
    throw new HostError('CLUSTER_LOCKED', undefined, 30);
  });

  await app.register(helmet, {
    // A JSON API: nothing may be loaded, framed or executed from its responses.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
      },
    },
    hsts: { maxAge: 31_536_000, includeSubDomains: true, preload: false },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(cors, {
    origin: deps.config.allowedOrigins.length > 0 ? [...deps.config.allowedOrigins] : false,
    methods: ['GET', 'POST'],
    credentials: false,
    maxAge: 600,
  });
  await app.register(rateLimit, {
    global: true,
    max: deps.config.rateLimit.max,
    timeWindow: deps.config.rateLimit.windowMs,
    ...(deps.redis ? { redis: deps.redis, nameSpace: 'cloister-rl:' } : {}),
    // Thrown, so it goes through the one error handler; HostError carries its own 429.
    errorResponseBuilder: () => new HostError('RATE_LIMITED'),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Cloister',
        version: '0.1.0',
        description:
          'TEE-backed secrets backend. Errors: { error: { code, message } }, see docs/errors.md.',
      },
    },
    transform: jsonSchemaTransform,
  });

  await app.register(attestationRoutes({ attestation: deps.attestation, cluster: deps.cluster }));
  await app.register(
    clusterRoutes({
      cluster: deps.cluster,
      guard: deps.auth.guard,
      enclave: deps.enclave,
      log: deps.log,
    }),
  );
  // Sessions belong to their creator; tokens are required unless AUTH_DISABLED_FOR_DEVELOPMENT.
  const access = createSessionAccess({ guard: deps.auth.guard, db: deps.db });
  await app.register(
    sessionRoutes({
      credentials: deps.credentials,
      maxTtlSeconds: deps.config.maxTtlSeconds,
      access,
    }),
  );
  await app.register(aggregatesRoutes({ aggregates: deps.aggregates, access }));
  await app.register(
    authRoutes({ auth: deps.auth.service, guard: deps.auth.guard, config: deps.auth.config }),
  );
  await app.register(
    operatorRoutes({
      auth: deps.auth.service,
      guard: deps.auth.guard,
      credentials: deps.credentials,
      db: deps.db,
      enclaveStats: () => deps.enclave.call('auth.stats', {}),
    }),
  );
  await app.register(healthRoutes({ enclave: deps.enclave, db: deps.db, cluster: deps.cluster }));
  await app.register(logRoutes({ log: deps.log, store: deps.logStore, access }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.setNotFoundHandler({ preHandler: app.rateLimit() }, () => {
    throw new HostError('NOT_FOUND');
  });
  return app;
}
