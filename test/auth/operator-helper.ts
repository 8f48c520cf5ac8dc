/** `npm run operator -- grant|revoke <email>` as the tests run it: against the service's database. */
import { setOperator } from '../../src/host/auth/operator-cli.js';
import { createAuthRepository } from '../../src/host/db/repositories/auth.js';
import { createOpsLog } from '../../src/host/ops-events.js';
import type { TestService } from '../helpers/service.js';

export function cliSetOperator(
  ts: TestService,
  action: 'grant' | 'revoke',
  email: string,
  by = 'test-admin',
): Promise<boolean> {
  const db = ts.service.db;
  const ops = createOpsLog({ info: () => undefined });
  return setOperator({ db, repo: createAuthRepository(db), ops }, action, email, by);
}
