/**
 * Prometheus metrics: after some requests the scrape shows request counts and latency by route
 * and status, enclave call latency by method, log batches, cleanup runs, the Argon2 queue, the
 * job queue, the enclave's state and rate-limit hits. On the main port /metrics is refused
 * without a token (401) and without the operator role (403); with METRICS_PORT it is served on
 * a listener of its own and not on the main port.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createMetrics, startMetricsListener } from '../../src/host/metrics.js';
import { cliSetOperator } from '../auth/operator-helper.js';
import { startTestService, type TestService } from '../helpers/service.js';

const password = 'metrics-password-0123';

async function account(ts: TestService, email: string): Promise<string> {
  await ts.service.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password },
  });
  const res = await ts.service.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password },
  });
  return (res.json() as { access_token: string }).access_token;
}

/** The value of one sample line, e.g. `name{a="b"}`; undefined when absent. */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('metrics behind the operator role (main port)', { concurrency: false }, () => {
  let ts: TestService;
  before(async () => {
    ts = await startTestService('pglite', { AUTH_DISABLED_FOR_DEVELOPMENT: 'false' });
  });
  after(async () => ts?.stop());

  it('refuses a scrape without a token (401) or without the operator role (403)', async () => {
    const anonymous = await ts.service.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().error.code, 'AUTH_REQUIRED');
    const user = await account(ts, 'plain-metrics@example.com');
    const plain = await ts.service.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${user}` },
    });
    assert.equal(plain.statusCode, 403);
    assert.ok(!plain.body.includes('cloister_http_requests_total'));
  });

  it('after some requests, shows them and the rest of the service', async () => {
    for (let i = 0; i < 3; i++)
      await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
    await ts.service.app.inject({ method: 'GET', url: '/no/such/route' });
    await ts.service.sweeper.runOnce();
    await account(ts, 'op-metrics@example.com');
    assert.equal(await cliSetOperator(ts, 'grant', 'op-metrics@example.com'), true);
    const op = await account(ts, 'op-metrics@example.com');
    const res = await ts.service.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${op}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    const quote = 'method="GET",route="/attestation/quote",status="200"';
    assert.equal(sample(text, `cloister_http_requests_total{${quote}}`), 3);
    assert.equal(sample(text, `cloister_http_request_duration_seconds_count{${quote}}`), 3);
    assert.ok(text.includes(`cloister_http_request_duration_seconds_bucket{le="0.005",${quote}}`));
    assert.equal(
      sample(text, 'cloister_http_requests_total{method="GET",route="unmatched",status="404"}'),
      1,
    );
    assert.ok(
      (sample(text, 'cloister_http_errors_total{code="AUTH_REQUIRED"}') ?? 0) >= 1,
      'the refused scrapes were counted by code',
    );
    assert.ok(
      (sample(
        text,
        'cloister_enclave_call_duration_seconds_count{method="attestation.get",outcome="ok"}',
      ) ?? 0) >= 3,
    );
    assert.ok((sample(text, 'cloister_log_append_batch_size_count') ?? 0) >= 1);
    assert.ok((sample(text, 'cloister_log_append_commit_seconds_count') ?? 0) >= 1);
    assert.equal(sample(text, 'cloister_cleanup_runs_total{job="ttl_sweep",outcome="ok"}'), 1);
    assert.equal(sample(text, 'cloister_enclave_ready'), 1);
    assert.equal(
      sample(
        text,
        `cloister_attestation_info{platform="simulated",measurement="${ts.measurement}"}`,
      ),
      1,
    );
    assert.equal(sample(text, 'cloister_argon2_queue_depth{state="waiting"}'), 0);
    assert.equal(sample(text, 'cloister_aggregate_jobs{state="queued"}'), 0);
    assert.equal(sample(text, 'cloister_argon2_sheds_total'), 0);
    // Route patterns only: no id, token or address is ever a label.
    assert.ok(!text.includes(op));
    assert.ok(!/route="[^"]*[0-9a-f]{8}-[0-9a-f]{4}/.test(text));
  });
});

describe('metrics on their own listener (METRICS_PORT)', { concurrency: false }, () => {
  let ts: TestService;
  let server: Server;
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      METRICS_PORT: '9464',
      RATE_LIMIT_MAX: '2',
    });
    // Port 0 here (tests run side by side); main.ts binds METRICS_HOST:METRICS_PORT.
    server = await startMetricsListener(ts.service.metrics!, '127.0.0.1', 0);
  });
  after(async () => {
    server?.close();
    await ts?.stop();
  });

  it('serves /metrics there without a token, not on the main port; counts rate-limit hits', async () => {
    for (let i = 0; i < 4; i++)
      await ts.service.app.inject({ method: 'GET', url: '/attestation/quote' });
    const main = await ts.service.app.inject({ method: 'GET', url: '/metrics' });
    assert.notEqual(main.statusCode, 200);
    assert.ok(!main.body.includes('cloister_'));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(
      (sample(text, 'cloister_rate_limit_hits_total{route="/attestation/quote"}') ?? 0) >= 2,
      text
        .split('\n')
        .filter((l) => l.includes('rate_limit'))
        .join('\n'),
    );
    assert.equal((await fetch(`${url}/other`)).status, 404);
  });

  it('METRICS_ENABLED=false: no registry, no route', async () => {
    const off = await startTestService('pglite', { METRICS_ENABLED: 'false' });
    try {
      assert.equal(off.service.metrics, undefined);
      const res = await off.service.app.inject({ method: 'GET', url: '/metrics' });
      assert.notEqual(res.statusCode, 200);
    } finally {
      await off.stop();
    }
  });
});

describe('metrics docs', () => {
  const names = new Set(
    createMetrics({ processMetrics: false })
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  );

  it('the Grafana dashboard charts only metrics the service exports', () => {
    const text = readFileSync('docs/operations/grafana-dashboard.json', 'utf8');
    const used = new Set(
      [...text.matchAll(/cloister_[a-z0-9_]+/g)].map((m) =>
        m[0].replace(/_(bucket|count|sum)$/, ''),
      ),
    );
    assert.ok(used.size >= 10);
    for (const name of used) assert.ok(names.has(name), `${name} is not exported`);
  });

  it('docs/operations/metrics.md lists every metric', () => {
    const doc = readFileSync('docs/operations/metrics.md', 'utf8');
    for (const name of names) assert.ok(doc.includes(`\`${name}\``), `${name} missing`);
  });
});
