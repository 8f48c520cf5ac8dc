/** Sealed keyring generations, as opaque blobs. Only the latest is ever handed back. */
import type { Queryable } from '../database.js';

export interface SealedState {
  generation: number;
  sealed: string;
  policy: 'signer' | 'measurement';
  measurement: string;
}

export function createEnclaveStateRepository(db: Queryable) {
  return {
    async latest(): Promise<SealedState | null> {
      const { rows } = await db.query<SealedState>(
        // After a cluster genesis, the generation it converted is served wrapped (migration 007).
        `SELECT e.generation, COALESCE(c.wrapped, e.sealed) AS sealed, e.policy, e.measurement
           FROM enclave_state e
           LEFT JOIN cluster_keyrings c ON c.purpose = 'credential' AND c.generation = e.generation
          ORDER BY e.generation DESC LIMIT 1`,
      );
      return rows[0] ?? null;
    },
    /** When the latest generation was stored (generated or rotated), in ms since the epoch. */
    async latestTime(): Promise<number | null> {
      const { rows } = await db.query<{ t: number | null }>(
        'SELECT floor(extract(epoch FROM max(created_at)) * 1000)::float8 AS t FROM enclave_state',
      );
      return rows[0]?.t == null ? null : Number(rows[0].t);
    },
    async insert(s: SealedState, q: Queryable = db): Promise<void> {
      await q.query(
        'INSERT INTO enclave_state (generation, sealed, policy, measurement) VALUES ($1, $2, $3, $4)',
        [s.generation, s.sealed, s.policy, s.measurement],
      );
    },
  };
}
export type EnclaveStateRepository = ReturnType<typeof createEnclaveStateRepository>;
