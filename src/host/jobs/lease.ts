/**
 * A lease on a named job in the shared database (migration 013), so that a schedule every
 * instance runs executes once per cluster: before a run, an instance takes the lease; another
 * instance holding an unexpired lease makes it skip. One statement, atomic in PostgreSQL: the
 * row is inserted, or taken over if expired or already this holder's.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';

export function createJobLease(deps: { db: Queryable; holder?: string; leaseMs: number }) {
  const holder = deps.holder ?? randomUUID();
  return {
    holder,
    /** True if this instance now holds `name` for the next `leaseMs`. */
    async acquire(name: string): Promise<boolean> {
      const { rows } = await deps.db.query(
        `INSERT INTO job_leases (name, holder, until)
         VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
           WHERE job_leases.until < now() OR job_leases.holder = EXCLUDED.holder
         RETURNING holder`,
        [name, holder, deps.leaseMs],
      );
      return rows.length === 1;
    },
  };
}
export type JobLease = ReturnType<typeof createJobLease>;
