/**
 * `npm start`: the composition root. Parses the configuration, builds the service, listens, and
 * shuts down cleanly on SIGINT/SIGTERM. A start-up failure the operator can fix (bad variable,
 * port taken, database unreachable, data folder locked) prints one line naming the cause and the
 * variable to change, and exits 78 (EX_CONFIG) or 69 (EX_UNAVAILABLE), after stopping what had
 * started (the enclave child included).
 */
import { resolve } from 'node:path';
import { loadConfig, type Config } from './config.js';
import { reportCrashes } from './crash-report.js';
import { startMetricsListener } from './metrics.js';
import { unsupportedNodeWarning } from './node-support.js';
import { createService, type Service } from './service.js';
import { listenStartupError, StartupError } from './startup-error.js';

// Files this process creates are private to its account (PGlite's own need data-dir.ts too).
process.umask(0o077);
// A crash prints what crashed, the error's class, code and frames: not Node's report, which
// holds every field of the error (a database error's row values: crash-report.ts).
reportCrashes();

// Before anything runs: on an unsupported Node a later hang would look like Cloister's own.
const nodeWarning = unsupportedNodeWarning(process.versions.node);
if (nodeWarning) process.stderr.write(`cloister: warning: ${nodeWarning}\n`);

function fail(err: unknown): never {
  if (err instanceof StartupError) {
    process.stderr.write(`cloister: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  // A bug rather than a setting: still one line; LOG_LEVEL=debug is no help before the logger.
  const e = err as Error;
  process.stderr.write(
    `cloister: start failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}\n`,
  );
  process.exit(70); // EX_SOFTWARE
}

let config: Config;
let service: Service;
try {
  config = loadConfig(process.env);
  service = await createService(config);
} catch (err) {
  fail(err);
}
try {
  await service.app.listen({ port: config.port, host: config.host });
} catch (err) {
  await service.stop().catch(() => undefined);
  fail(listenStartupError(err, config.host, config.port));
}
// METRICS_PORT: /metrics on a listener of its own (else on the main port, operator role only).
const metricsServer =
  service.metrics && config.metrics.port !== undefined
    ? await startMetricsListener(service.metrics, config.metrics.host, config.metrics.port).catch(
        async (err: unknown) => {
          await service.stop().catch(() => undefined);
          return fail(
            listenStartupError(err, config.metrics.host, config.metrics.port!, 'METRICS_PORT'),
          );
        },
      )
    : undefined;
service.logger.info(
  {
    platform: config.enclave.platform,
    measurement: service.enclave.measurement(),
    database: service.db.engine,
    simulatedVendorKeyFile: resolve(config.dataDir, 'simulated-platform', 'vendor.pub'),
  },
  `cloister listening on http://${config.host}:${config.port}`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    metricsServer?.close();
    service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
