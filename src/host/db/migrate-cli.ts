/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded PGlite). */
import { loadConfig } from '../config.js';
import { StartupError } from '../startup-error.js';
import { openDatabaseFor } from './database.js';
import { migrate } from './migrate.js';

process.umask(0o077);
try {
  const config = loadConfig(process.env);
  const db = await openDatabaseFor(config);
  try {
    const applied = await migrate(db);
    process.stdout.write(
      `${db.engine}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'schema up to date'}\n`,
    );
  } finally {
    await db.close();
  }
} catch (err) {
  if (err instanceof StartupError) {
    process.stderr.write(`migrate: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`migration failed: ${(err as Error).message}\n`);
  process.exit(1);
}
