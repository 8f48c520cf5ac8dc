/**
 * `npm start`: the composition root. Parses the configuration (a bad value stops here, naming the
 * variable), builds the service, listens, and shuts down cleanly on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { createService } from './service.js';

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  throw err;
}

const service = await createService(config);
try {
  await service.app.listen({ port: config.port, host: config.host });
} catch (err) {
  // A host that cannot serve must not leave its enclave (and the keyring in it) running.
  await service.stop().catch(() => undefined);
  throw err;
}
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
    service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
