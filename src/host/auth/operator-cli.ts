/**
 * `npm run operator -- grant|revoke <email>`: gives or takes the `operator` role of an account,
 * run by whoever administers the database (DATABASE_URL, or the embedded PGlite in DATA_DIR).
 * The role reaches tokens at the account's next login or refresh. Roles come from the host's
 * database: the host is the relying party for the operator routes (docs/protocol/auth.md).
 */
import { join } from 'node:path';
import { EmailSchema } from '../../protocol/auth.js';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrate } from '../db/migrate.js';
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
  try {
    const config = loadConfig(process.env);
    const db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: join(config.dataDir, 'pglite'),
    });
    try {
      await migrate(db);
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
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : 'operator command failed'}\n`,
    );
    process.exit(1);
  }
}
