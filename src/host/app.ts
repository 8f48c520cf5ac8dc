/**
 * buildApp(deps): the Fastify instance with every plugin and route, not listening. main.ts
 * listens; tests call `app.inject()`. Limits, security headers, CORS, the cookie-mode CSRF
 * check and rate limiting are set here, in one place, for every route.
 *
 * Routes live in three contexts: public (attestation, log proofs, register/login/refresh,
 * health), authenticated (one `onRequest` hook checks the token before any handler or body
 * parsing) and, inside it, operator (a second hook requires the `operator` role). A new route
 * is protected by where it is registered, not by an option it could forget;
 * test/host/route-protection.test.ts fails for any route outside its public allow-list that
 * answers without a token.
 */
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
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
import { createOperatorRepository } from './db/repositories/operator.js';
import type { EnclaveSupervisor } from './enclave-client/supervisor.js';
import { HTTP_ERRORS, HostError, errorBody } from './errors.js';
import { clientErrorHandler } from './http/client-errors.js';
import { createCsrfCheck } from './http/csrf.js';
import { OneLinePerRequest } from './logging.js';
import { installErrorHandler, reportError, type ErrorReports } from './http/error-handler.js';
import { securityHeaders } from './http/security-headers.js';
import { fastifyTrustProxy, rateLimitKey, requestClientKey } from './http/trust-proxy.js';
import { aggregatesRoutes } from './http/routes/aggregates.js';
import { attestationRoutes } from './http/routes/attestation.js';
import { authRoutes } from './http/routes/auth.js';
import { operatorRoutes } from './http/routes/operator.js';
import type { AuthService } from './auth/auth-service.js';
import type { AuthConfig } from './auth/config.js';
import type { WalletService } from './services/wallet-service.js';
import { walletRoutes } from './http/routes/wallets.js';
import type { AuthGuard } from './auth/guard.js';
import { createSessionAccess } from './auth/session-access.js';
import { createStepUp } from './auth/step-up.js';
import { healthRoutes } from './http/routes/health.js';
import { clusterRoutes } from './http/routes/cluster.js';
import type { ClusterService } from './cluster/cluster-service.js';
import { logRoutes } from './http/routes/log.js';
import { sessionRoutes } from './http/routes/sessions.js';
import { DEFAULT_WEB_ROOT, webAppBuilt, webRoutes } from './http/routes/web.js';
import type { AggregatesService } from './services/aggregates-service.js';
import type { AttestationService } from './services/attestation-service.js';
import type { CredentialService } from './services/credential-service.js';
import type { LogService } from './log/log-service.js';
import type { LogStore } from './log/log-store.js';
import type { Metrics } from './metrics.js';
import type { OpsLog } from './ops-events.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppDeps {
  config: Pick<Config, 'allowedOrigins' | 'rateLimit' | 'trustProxy' | 'maxTtlSeconds' | 'http'>;
  logger: Logger;
  enclave: Pick<EnclaveSupervisor, 'isReady' | 'retryAfterSeconds' | 'call' | 'restart'> &
    Partial<Pick<EnclaveSupervisor, 'envelopeNotBefore'>>;
  db: Pick<Queryable, 'query'>;
  credentials: CredentialService;
  attestation: AttestationService;
  aggregates: AggregatesService;
  log: LogService;
  logStore: LogStore;
  redis?: Redis | undefined;
  auth: { service: AuthService; guard: AuthGuard; config: AuthConfig };
  ops: OpsLog;
  /** Wallet custody (routes/wallets.ts); absent in tests that build a partial app. */
  wallets?: { service: WalletService; signMaxPerMinute: number };
  cluster: ClusterService;
  /** The built web app (dist/web); absent or unbuilt: the API alone (routes/web.ts). */
  webRoot?: string | null;
  /** Prometheus metrics; `onMainPort`: GET /metrics here, for the operator role only. */
  metrics?: { registry: Metrics; onMainPort: boolean };
}

/** Every route as registered (method and URL), for the route-protection test. */
const ROUTES = new WeakMap<object, { method: string; url: string }[]>();
export function registeredRoutes(app: FastifyInstance): { method: string; url: string }[] {
  return ROUTES.get(app) ?? [];
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // Helmet's headers (http/security-headers.ts), computed once instead of on every request.
  const secureHeaders = await securityHeaders();
  // Every 401, 403 and 429 is an audit event (log only: a flood must not become DB writes), and
  // every error answer's code is counted: by the error handler, and in frameworkErrors.
  const metrics = deps.metrics?.registry;
  const reports: ErrorReports = {
    onDenied: (req, status, code) => {
      deps.ops.emit({
        type: 'auth.request_denied',
        status,
        code,
        method: req.method,
        route: req.routeOptions.url ?? 'unknown',
        // A refusal after the connection closed still goes to the audit trail.
        client: requestClientKey(req) ?? 'connection-closed',
      });
    },
    onCode: (req, code) => metrics?.error(code, req.routeOptions.url),
  };
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One line per request (logging.ts), not Fastify's two.
    logController: new OneLinePerRequest(),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: fastifyTrustProxy(deps.config.trustProxy),
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
    // Fastify's own 503 while closing is written on the socket without the security headers:
    // the first hook answers it instead (below).
    return503OnClosing: false,
    routerOptions: { maxParamLength: 100 },
    // Random ids: a counter would tell one client how many requests others made.
    genReqId: () => randomUUID(),
    // Errors Fastify raises before routing (a malformed URL, a path parameter over the router's
    // limit) would otherwise get Fastify's own body, which echoes the path. No hook runs for
    // them, so the security headers are set here too, and the refusal is counted here against
    // the client's global budget (overBudget, below): 429 RATE_LIMITED once it is spent. Fastify
    // builds this request without TRUST_PROXY (its address is the connection's): behind a proxy,
    // malformed URLs share the proxy's budget, which only brings other clients' malformed URLs,
    // never a request of theirs that could be served, to 429 sooner.
    frameworkErrors: (_err, req, reply) => {
      const send = (e: HostError) => {
        reportError(reports, req, e.code);
        if (e.retryAfterSeconds !== undefined)
          void reply.header('retry-after', String(e.retryAfterSeconds));
        void (reply as FastifyReply)
          .code(HTTP_ERRORS[e.code][0])
          .header('content-type', 'application/json; charset=utf-8')
          .send(errorBody(e.code, e.details ? { details: e.details } : {}));
      };
      const invalid = new HostError('VALIDATION_FAILED', [{ path: 'url', issue: 'invalid' }]);
      void reply.headers(secureHeaders);
      overBudget(req, reply).then(
        (limited) => send(limited ?? invalid),
        () => send(invalid),
      );
    },
    // Bytes that never became a request (malformed HTTP, headers over the limit, a timeout):
    // answered on the socket, with the same headers and error body (http/client-errors.ts).
    clientErrorHandler: clientErrorHandler(secureHeaders, deps.logger as FastifyBaseLogger),
    // Node's own 400 for an HTTP/1.1 request without Host has neither: the first hook refuses it.
    http: { requireHostHeader: false },
  }).withTypeProvider<ZodTypeProvider>();
  // Connections, not requests: each one held open (idle, or sending its headers a byte at a
  // time within requestTimeout) costs a file descriptor that the rate limits never see. Past
  // HTTP_MAX_CONNECTIONS Node closes new ones at once, so the database, the enclave socket and
  // the egress proxy keep theirs.
  app.server.maxConnections = deps.config.http.maxConnections;
  // Node's own 417 for an expectation other than 100-continue has neither either: such a request
  // is served as any other (RFC 9110 lets a server ignore an expectation).
  app.server.on('checkExpectation', (req, res) => app.server.emit('request', req, res));
  // JSON only: a text/plain body is a CORS "simple request" a browser sends without preflight.
  app.removeContentTypeParser(['text/plain']);
  // The global rate limit, first: the refusals below, answered before a route's own limit could
  // run, are counted against the same budget (overBudget).
  await app.register(rateLimit, {
    global: true,
    max: deps.config.rateLimit.max,
    timeWindow: deps.config.rateLimit.windowMs,
    ...(deps.redis ? { redis: deps.redis, nameSpace: 'cloister-rl:' } : {}),
    // The client's address as TRUST_PROXY resolves it (req.ip); an IPv6 client by its /64; a
    // request whose connection is already gone is refused (CONNECTION_CLOSED).
    keyGenerator: rateLimitKey,
    // Thrown, so it goes through the one error handler; HostError carries its own 429.
    errorResponseBuilder: () => new HostError('RATE_LIMITED'),
  });
  // A request refused before a route's limit runs (the first hook's REQUEST_MALFORMED, the CSRF
  // check, CLUSTER_LOCKED, the guard's hooks, a wallet route's own hooks, a malformed URL) is
  // counted here against the client's global budget, so refusals are not free, and a client over
  // its budget is answered 429 RATE_LIMITED (with Retry-After) there as on every other route.
  // Within the budget the refusal keeps its own status and code. The one mechanism for all of
  // them: `refuse` in a hook, `counted(hook)` around a hook that throws its refusal.
  const globalBudget = app.createRateLimit();
  /**
   * Counts a refused request; RATE_LIMITED once the client's budget is spent, else null. A store
   * that fails (Redis down) leaves the refusal as it is: nothing was done for it, and a served
   * route's own limit still fails closed.
   */
  async function overBudget(req: FastifyRequest, reply: FastifyReply): Promise<HostError | null> {
    // Once the connection is gone there is no address to count (the refusal is audited).
    if (requestClientKey(req) === null) return null;
    const r = await globalBudget(req).catch(() => null);
    if (r === null || r.isAllowed) return null;
    void reply
      .header('x-ratelimit-limit', r.max)
      .header('x-ratelimit-remaining', r.remaining)
      .header('x-ratelimit-reset', r.ttlInSeconds);
    return r.isExceeded
      ? new HostError('RATE_LIMITED', undefined, Math.max(1, r.ttlInSeconds))
      : null;
  }
  const refuse = async (req: FastifyRequest, reply: FastifyReply, err: unknown): Promise<never> => {
    throw (await overBudget(req, reply)) ?? err;
  };
  const counted =
    (hook: (req: FastifyRequest) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      try {
        await hook(req);
      } catch (err) {
        await refuse(req, reply, err);
      }
    };
  // The security headers in the first hook of all: a hook that refuses (the CSRF check,
  // CLUSTER_LOCKED) skips the ones after it, and its answer must carry them too.
  // While the app closes, a request that still arrives (pipelined, or on a busy keep-alive
  // connection) is refused here, through the error handler, instead of by Fastify's raw 503.
  // That refusal is not counted: it is no fault of the client's, costs nothing, and sends it to
  // another instance (Retry-After 1), and the store may be closing with the app (a Redis call
  // then would turn the 503 into an error of its own).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (req, reply, done) => {
    void reply.headers(secureHeaders);
    // No answer is kept in a cache unless its route says otherwise (the JWKS, the web app's
    // files): a browser stores a GET sent with a bearer token in its private disk cache, where
    // the account's data (methods, sessions, wallets, results) would outlive the sign-out.
    void reply.header('cache-control', 'no-store');
    if (closing) return done(new HostError('SERVER_CLOSING', undefined, 1));
    // RFC 9112 3.2: an HTTP/1.1 request without Host is refused, and the connection closed.
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      void reply.header('connection', 'close');
      return void refuse(req, reply, new HostError('REQUEST_MALFORMED')).catch(done);
    }
    done();
  });
  // The id ties a client's report of an error to the host's log line for it.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  const routes: { method: string; url: string }[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
    // The HEAD route Fastify adds for a GET would get a budget of its own from the limit plugin,
    // next to GET's (the same work, the body dropped): a route with its own limit sets
    // `exposeHeadRoute: false`.
    if (r.method === 'HEAD' && typeof r.config?.rateLimit === 'object')
      throw new Error(`${r.url}: a HEAD route with its own rate limit (exposeHeadRoute: false)`);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app, deps.enclave.retryAfterSeconds, reports);
  if (metrics) {
    // Route patterns, never raw URLs (they hold ids); unmatched requests share one label.
    app.addHook('onResponse', async (req, reply) => {
      metrics.request(req.method, req.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  if (deps.auth.config.cookies) {
    // Before anything else: a cross-site request with the cookies is refused unread.
    app.addHook('onRequest', counted(createCsrfCheck(deps.config.allowedOrigins)));
  }
  // Awaiting the cluster quorum: only health, the provisioning quote and the cluster routes.
  app.addHook(
    'onRequest',
    counted(async (req) => {
      if (!deps.cluster.isLocked()) return;
      const path = req.url.split('?')[0] ?? '';
      if (['/healthz', '/readyz', '/attestation/quote'].includes(path)) return;
      if (path.startsWith('/cluster/')) return;
      throw new HostError('CLUSTER_LOCKED', undefined, 30);
    }),
  );

  // An unmatched request, and every OPTIONS request, is limited here, in the first hooks: before
  // an unmatched request's body is read (the 404 handler's own hooks come after the body
  // parser, so a body it refused was never counted), and before @fastify/cors's hook (below),
  // which answers a preflight (or refuses a malformed one) itself, before any route's hook.
  // Counted once: the plugin marks the request, and the route's own limit (the global one of
  // cors's OPTIONS * route, which answers when CORS is off) then lets it through uncounted.
  // With CORS on, an OPTIONS request that is not a whole preflight (no Origin, or no
  // Access-Control-Request-Method) is refused here with the JSON error body: cors's own answer
  // is a text/plain "Invalid Preflight Request".
  const requestLimit = app.rateLimit();
  const corsOn = deps.config.allowedOrigins.length > 0;
  app.addHook('onRequest', async (req, reply) => {
    if (!req.is404 && req.method !== 'OPTIONS') return;
    await requestLimit.call(app, req, reply);
    if (!corsOn || req.method !== 'OPTIONS') return;
    for (const header of ['origin', 'access-control-request-method'])
      if (!req.headers[header])
        throw new HostError('VALIDATION_FAILED', [
          { path: `headers.${header}`, issue: 'required for a CORS preflight' },
        ]);
  });
  // After the limit: @fastify/cors adds a route (OPTIONS *) that reads a body like any other, and
  // the limit applies only to routes added after it. A preflight is answered by cors's own hook,
  // before any route hook, with nothing read (and counted by the hook above).
  await app.register(cors, {
    origin: deps.config.allowedOrigins.length > 0 ? [...deps.config.allowedOrigins] : false,
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    credentials: false,
    maxAge: 600,
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

  const { guard } = deps.auth;
  const access = createSessionAccess({ guard, owners: createOperatorRepository(deps.db) });
  // One step-up rule for every sensitive route (auth, wallets, operator).
  const requireStepUp = createStepUp(
    guard,
    deps.auth.config.stepUpSeconds,
    deps.auth.service.secondFactors,
  );
  const auth = authRoutes({
    auth: deps.auth.service,
    guard,
    config: deps.auth.config,
    requireStepUp,
  });
  const log = logRoutes({ log: deps.log, store: deps.logStore, access });
  const cluster = clusterRoutes({
    cluster: deps.cluster,
    guard,
    enclave: deps.enclave,
    log: deps.log,
  });

  // Public: no token needed.
  await app.register(
    attestationRoutes({
      attestation: deps.attestation,
      cluster: deps.cluster,
      envelopeNotBefore: () => deps.enclave.envelopeNotBefore?.(),
    }),
  );
  await app.register(auth.public);
  await app.register(log.public);
  await app.register(healthRoutes({ enclave: deps.enclave, db: deps.db, cluster: deps.cluster }));
  await app.register(cluster.public);

  // The guard's hooks run before the rate limit (a context's onRequest hooks come before a
  // route's, where the plugin puts its own): a refusal there (a bad or revoked token, a missing
  // role) is counted (`counted`, above), so refused tokens are not free.
  // Authenticated: a token is checked once, here, for every route below (with
  // AUTH_DISABLED_FOR_DEVELOPMENT a request without one passes as the anonymous user). Sessions
  // belong to their creator: the routes check ownership through `access`.
  await app.register(async (authed) => {
    authed.addHook('onRequest', counted(guard.authenticate));
    await authed.register(
      sessionRoutes({
        credentials: deps.credentials,
        maxTtlSeconds: deps.config.maxTtlSeconds,
        access,
        owned: createOperatorRepository(deps.db),
      }),
    );
    await authed.register(aggregatesRoutes({ aggregates: deps.aggregates, access }));
    await authed.register(log.session);
    await authed.register(auth.account);
    if (deps.wallets)
      await authed.register(
        walletRoutes({
          wallets: deps.wallets.service,
          guard,
          signMaxPerMinute: deps.wallets.signMaxPerMinute,
          // The wallet routes check the token (required even in development mode) and the
          // step-up in their own onRequest hooks, which run before the route's limit: a refusal
          // there is counted like the guard's.
          requireStepUp,
          counted,
        }),
      );

    // Operator: the role is needed, even in development mode.
    await authed.register(async (op) => {
      op.addHook('onRequest', counted(guard.operator));
      await op.register(
        operatorRoutes({
          auth: deps.auth.service,
          guard,
          credentials: deps.credentials,
          repo: createOperatorRepository(deps.db),
          enclaveStats: () => deps.enclave.call('auth.stats', {}),
          requireStepUp,
        }),
      );
      await op.register(cluster.operator);
      if (metrics && deps.metrics?.onMainPort)
        op.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
          reply.type(metrics.contentType).send(await metrics.render()),
        );
    });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // The web app, public like the attestation it verifies (routes/web.ts sets its CSP).
  const webRoot = deps.webRoot === undefined ? DEFAULT_WEB_ROOT : deps.webRoot;
  if (webRoot !== null && webAppBuilt(webRoot)) await app.register(webRoutes(webRoot));
  else
    deps.logger.warn(
      { webRoot },
      'web app not built (run npm run build): serving the API only, nothing at /',
    );

  app.setNotFoundHandler(() => {
    throw new HostError('NOT_FOUND');
  });
  return app;
}
