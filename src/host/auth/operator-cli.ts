/**
 * `npm run operator -- grant|revoke <email>`: gives or takes the `operator` role of an account,
 * run by whoever administers the database (DATABASE_URL, or the embedded PGlite in DATA_DIR).
 * The role reaches tokens at the account's next login or refresh. Roles come from the host's
 * database: the host is the relying party for the operator routes (docs/protocol/auth.md).
 * On PGlite it takes DATA_DIR's lock like the service, so it refuses while the service runs
 * (one writer: the service would otherwise lose this write, or this one the service's).
 */
import { EmailSchema } from '../../protocol/auth.js';
import { loadConfig } from '../config.js';
import { openDatabaseFor } from '../db/database.js';
import { checkSchema, migrate } from '../db/migrate.js';
import { StartupError } from '../startup-error.js';
import { createAuthRepository } from '../db/repositories/auth.js';

export async function setOperator(
  repo: Pick<ReturnType<typeof createAuthRepository>, 'grantRole' | 'revokeRole'>,
  action: 'grant' | 'revoke',
  email: string,
): Promise<boolean> {
  const normalized = EmailSchema.parse(email);
  return action === 'grant'
    ? repo.grantRole(normalized, 'operator')
    : repo.revokeRole(normalized, 'operator');
}

const isMain =
  process.argv[1]?.endsWith('operator-cli.ts') || process.argv[1]?.endsWith('operator-cli.js');
if (isMain) {
  const [action, email] = process.argv.slice(2);
  if ((action !== 'grant' && action !== 'revoke') || !email) {
    process.stderr.write('usage: npm run operator -- grant|revoke <email>\n');
    process.exit(2);
  }
  process.umask(0o077);
  try {
    const config = loadConfig(process.env);
    const db = await openDatabaseFor(config);
    try {
      if (config.migrateOnStart) await migrate(db);
      else await checkSchema(db);
      const ok = await setOperator(createAuthRepository(db), action, email);
      if (!ok) {
        process.stderr.write('no account with that email\n');
        process.exit(1);
      }
      process.stdout.write(`operator role ${action === 'grant' ? 'granted' : 'revoked'}\n`);
    } finally {
      await db.close();
    }
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`operator: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write('operator command failed\n');
    process.exit(1);
  }
}
