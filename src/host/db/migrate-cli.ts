/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded PGlite). */
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from './database.js';
import { migrate } from './migrate.js';

try {
  const config = loadConfig(process.env);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: join(config.dataDir, 'pglite'),
  });
  try {
    const applied = await migrate(db);
    process.stdout.write(
      `${db.engine}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date'}\n`,
    );
  } finally {
    await db.close();
  }
} catch (err) {
  process.stderr.write(
    `${err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`}\n`,
  );
  process.exit(1);
}
