/**
 * Prometheus metrics (prom-client), one registry per service. Served at `/metrics` either on a
 * listener of its own (METRICS_PORT, for a scraper on a private network) or on the main port
 * behind the operator role (metrics.ts's routes in app.ts). Labels are bounded: the route
 * pattern (never the raw URL, which holds ids), the method, the status, an RPC method name, an
 * error code; no user, session or address ever becomes a label. docs/operations/metrics.md lists
 * them; docs/operations/grafana-dashboard.json charts them.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the scrape reads from the rest of the service at collection time. */
export interface MetricsSources {
  enclaveReady: () => boolean;
  enclaveGeneration: () => number | null;
  /** Platform and measurement of the running enclave (an info gauge). */
  enclaveIdentity: () => { platform: string; measurement: string } | null;
  /** The enclave's Argon2 queue (auth.stats); rejects while the enclave is not ready. */
  argon2: () => Promise<{ running: number; waiting: number }>;
  jobs: () => Promise<{ running: number; queued: number }>;
}

export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.processMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'cloister_' });
  const registers = [registry];
  let sources: MetricsSources | undefined;

  const httpRequests = new Counter({
    name: 'cloister_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const httpDuration = new Histogram({
    name: 'cloister_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const httpErrors = new Counter({
    name: 'cloister_http_errors_total',
    help: 'Error answers by stable error code (docs/errors.md)',
    labelNames: ['code'] as const,
    registers,
  });
  const rateLimitHits = new Counter({
    name: 'cloister_rate_limit_hits_total',
    help: 'Requests refused by a rate limit (429 RATE_LIMITED), by route pattern',
    labelNames: ['route'] as const,
    registers,
  });
  const argon2Sheds = new Counter({
    name: 'cloister_argon2_sheds_total',
    help: 'Logins and registrations refused because the Argon2 queue was full (503 AUTH_BUSY)',
    registers,
  });
  const enclaveCalls = new Histogram({
    name: 'cloister_enclave_call_duration_seconds',
    help: 'Enclave RPC latency, by method and outcome',
    labelNames: ['method', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const logBatchSize = new Histogram({
    name: 'cloister_log_append_batch_size',
    help: 'Operations committed in one transparency-log batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    registers,
  });
  const logCommit = new Histogram({
    name: 'cloister_log_append_commit_seconds',
    help: 'Time to commit one log batch (database transaction and enclave signature)',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const cleanupRuns = new Counter({
    name: 'cloister_cleanup_runs_total',
    help: 'Runs of the cleanup jobs (ttl_sweep, retention_purge), by outcome',
    labelNames: ['job', 'outcome'] as const,
    registers,
  });
  new Gauge({
    name: 'cloister_enclave_ready',
    help: '1 when the enclave answers and holds its keyring (the attested keys can be served)',
    registers,
    collect() {
      this.set(sources?.enclaveReady() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cloister_enclave_generation',
    help: 'Generation of the credential keyring in use',
    registers,
    collect() {
      this.set(sources?.enclaveGeneration() ?? 0);
    },
  });
  new Gauge({
    name: 'cloister_attestation_info',
    help: 'The running enclave: platform and measurement (value 1; simulated is not secure)',
    labelNames: ['platform', 'measurement'] as const,
    registers,
    collect() {
      this.reset();
      const id = sources?.enclaveIdentity();
      if (id) this.set({ platform: id.platform, measurement: id.measurement }, 1);
    },
  });
  new Gauge({
    name: 'cloister_argon2_queue_depth',
    help: 'Argon2id computations in the enclave, running and waiting (-1: enclave not ready)',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const s = await sources?.argon2().catch(() => null);
      this.set({ state: 'running' }, s ? s.running : -1);
      this.set({ state: 'waiting' }, s ? s.waiting : -1);
    },
  });
  new Gauge({
    name: 'cloister_aggregate_jobs',
    help: 'Aggregate jobs queued for an enclave slot and running',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const j = await sources?.jobs().catch(() => null);
      this.set({ state: 'queued' }, j ? j.queued : -1);
      this.set({ state: 'running' }, j ? j.running : -1);
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    /** Wires the gauges read at scrape time (service.ts, once the parts exist). */
    setSources(s: MetricsSources): void {
      sources = s;
    },
    request(method: string, route: string | undefined, status: number, seconds: number): void {
      const labels = { method, route: route ?? 'unmatched', status: String(status) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, seconds);
    },
    error(code: string, route: string | undefined): void {
      httpErrors.inc({ code });
      if (code === 'RATE_LIMITED') rateLimitHits.inc({ route: route ?? 'unmatched' });
      if (code === 'AUTH_BUSY') argon2Sheds.inc();
    },
    /** Times one enclave call; the promise is returned unchanged. */
    enclaveCall<T>(method: string, call: Promise<T>): Promise<T> {
      const end = enclaveCalls.startTimer({ method });
      call.then(
        () => end({ outcome: 'ok' }),
        () => end({ outcome: 'error' }),
      );
      return call;
    },
    logBatch(size: number, seconds: number): void {
      logBatchSize.observe(size);
      logCommit.observe(seconds);
    },
    cleanupRun(job: 'ttl_sweep' | 'retention_purge', outcome: 'ok' | 'error'): void {
      cleanupRuns.inc({ job, outcome });
    },
    async render(): Promise<string> {
      return registry.metrics();
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The METRICS_PORT listener: GET /metrics and nothing else, no token. Bind it to an address
 * only the scraper reaches (METRICS_HOST, loopback by default): the figures are operational,
 * never secret, but they describe the service's load to whoever can read them.
 */
export async function startMetricsListener(
  metrics: Pick<Metrics, 'render' | 'contentType'>,
  host: string,
  port: number,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
