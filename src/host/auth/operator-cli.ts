/**
 * `npm run operator -- grant|revoke <email> [--by <name>]`: gives or takes the `operator` role
 * of an account, run by whoever administers the database (DATABASE_URL, or the embedded PGlite
 * in DATA_DIR). The role reaches tokens at the account's next login or refresh. Roles come from
 * the host's database: the host is the relying party for the operator routes
 * (docs/protocol/auth.md). On PGlite it takes DATA_DIR's lock like the service, so it refuses
 * while the service runs (one writer: the service would otherwise lose this write, or this one
 * the service's).
 *
 * Who did it is recorded: an `auth.role_granted`/`auth.role_revoked` ops event in the same
 * transaction, `by` = `cli:<name>` (`--by`, else the OS user). This command runs without the
 * enclave, so it cannot append to the transparency log; once an operator exists, change roles
 * with `POST /operator/roles/grant|revoke`, which logs the change there too.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { EmailSchema } from '../../protocol/auth.js';
import { loadConfig } from '../config.js';
import { openDatabaseFor, type Db } from '../db/database.js';
import { checkSchema, migrate } from '../db/migrate.js';
import { createAuthRepository, type AuthRepository } from '../db/repositories/auth.js';
import { createOpsLog, type OpsLog } from '../ops-events.js';
import { StartupError } from '../startup-error.js';

export async function setOperator(
  deps: {
    db: Pick<Db, 'transaction'>;
    repo: Pick<AuthRepository, 'grantRole' | 'revokeRole'>;
    ops: OpsLog;
  },
  action: 'grant' | 'revoke',
  email: string,
  by: string,
): Promise<boolean> {
  const normalized = EmailSchema.parse(email);
  return deps.db.transaction(async (tx) => {
    const userId =
      action === 'grant'
        ? await deps.repo.grantRole(normalized, 'operator', tx)
        : await deps.repo.revokeRole(normalized, 'operator', tx);
    if (userId === null) return false;
    await deps.ops.record(tx, {
      type: action === 'grant' ? 'auth.role_granted' : 'auth.role_revoked',
      userId,
      role: 'operator',
      by: `cli:${by}`,
    });
    return true;
  });
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

export const OPERATOR_USAGE = 'usage: npm run operator -- grant|revoke <email> [--by <name>]\n';

/**
 * The command itself, without touching the process: `args` are the words after the script,
 * `env` the environment; answers the exit code (0 done, 1 no such account or failure, 2 usage,
 * a startup error's own code).
 */
export async function runOperatorCli(
  args: string[],
  env: Record<string, string | undefined>,
  io: { stdout(s: string): void; stderr(s: string): void },
  whoami: () => string = osUser,
): Promise<number> {
  let parsed: ReturnType<typeof parseOperatorArgs>;
  try {
    parsed = parseOperatorArgs(args);
  } catch {
    parsed = null;
  }
  if (!parsed) {
    io.stderr(OPERATOR_USAGE);
    return 2;
  }
  const { action, email, by } = parsed;
  try {
    const config = loadConfig(env);
    const db = await openDatabaseFor(config);
    try {
      if (config.migrateOnStart) await migrate(db);
      else await checkSchema(db);
      const ops = createOpsLog({ info: () => undefined });
      const ok = await setOperator(
        { db, repo: createAuthRepository(db), ops },
        action,
        email,
        by ?? whoami(),
      );
      if (!ok) {
        io.stderr('no account with that email\n');
        return 1;
      }
      io.stdout(`operator role ${action === 'grant' ? 'granted' : 'revoked'}\n`);
      return 0;
    } finally {
      await db.close();
    }
  } catch (err) {
    if (err instanceof StartupError) {
      io.stderr(`operator: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr('operator command failed\n');
    return 1;
  }
}

/** `grant|revoke <email> [--by <name>]`, or null when the words do not say that. */
export function parseOperatorArgs(
  args: string[],
): { action: 'grant' | 'revoke'; email: string; by: string | undefined } | null {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { by: { type: 'string' } },
  });
  const [action, email] = positionals;
  if ((action !== 'grant' && action !== 'revoke') || !email) return null;
  return { action, email, by: values.by };
}

const isMain =
  process.argv[1]?.endsWith('operator-cli.ts') || process.argv[1]?.endsWith('operator-cli.js');
if (isMain) {
  process.umask(0o077);
  process.exitCode = await runOperatorCli(process.argv.slice(2), process.env, {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
  });
}
