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
        'SELECT generation, sealed, policy, measurement FROM enclave_state ORDER BY generation DESC LIMIT 1',
      );
      return rows[0] ?? null;
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
