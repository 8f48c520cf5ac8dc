/**
 * The credential keyring's lifecycle on the host: at every enclave start, hand back the stored
 * sealed keyring (or have the first one generated and store it), and rotate the credential key
 * through the shared sealed-rotation steps. The host only ever holds sealed blobs.
 */
import type {
  MethodName,
  MethodParams,
  MethodResult,
  PublicKeys,
  SealPolicy,
} from '../../protocol/rpc/methods.js';
import type { Db } from '../db/database.js';
import type { EnclaveStateRepository } from '../db/repositories/enclave-state.js';
import type { LogService } from '../log/log-service.js';
import type { OpsLog } from '../ops-events.js';
import { rotateSealed } from './sealed-rotation.js';

type Call = <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;

export function createCredentialKeyring(deps: {
  db: Pick<Db, 'transaction'>;
  state: EnclaveStateRepository;
  ops: OpsLog;
  sealingPolicy: SealPolicy;
}) {
  const { db, state, ops, sealingPolicy } = deps;
  return {
    /** Enclave ready hook (the first): unseal the stored keyring, or create and store one. */
    async init(call: Call): Promise<void> {
      const status = await call('enclave.status', {});
      const latest = await state.latest();
      if (status.phase === 'ready') {
        // An enclave we connected to was initialised by an earlier host run: nothing to hand over.
        if (!latest || latest.generation !== status.generation)
          throw new Error('running enclave holds another keyring');
        return;
      }
      if (latest) {
        await call('keyring.unseal', { sealed: latest.sealed });
        return;
      }
      const generated = await call('keyring.generate', { policy: sealingPolicy });
      await db.transaction(async (tx) => {
        await state.insert(
          {
            generation: generated.public.generation,
            sealed: generated.sealed,
            policy: sealingPolicy,
            measurement: status.measurement,
          },
          tx,
        );
        await ops.record(tx, {
          type: 'keyring.generated',
          generation: generated.public.generation,
          keyId: generated.public.current_key_id,
        });
      });
    },

    /**
     * Rotates the credential key: the new sealed keyring, its `keyring.rotated` ops event and
     * log entry are stored before the enclave may use the key (see sealed-rotation.ts).
     */
    async rotate(enclave: { call: Call }, log: Pick<LogService, 'commit'>): Promise<PublicKeys> {
      const { measurement } = await enclave.call('enclave.status', {});
      return rotateSealed(
        { log, ops },
        {
          prepare: () => enclave.call('keyring.prepare_rotation', {}),
          persist: (tx, p) =>
            state.insert(
              { generation: p.generation, sealed: p.sealed, policy: sealingPolicy, measurement },
              tx,
            ),
          logged: (p) => ({
            event: { type: 'keyring.rotated', generation: p.generation, keyId: p.key_id },
            subject: p.key_id,
          }),
          activate: async (p) =>
            (await enclave.call('keyring.activate', { generation: p.generation, sealed: p.sealed }))
              .public,
        },
      );
    },

    /**
     * Several instances: hands the enclave the newest stored generation if it is newer than
     * the one it holds (another member rotated). True if the enclave moved.
     */
    async reload(call: Call): Promise<boolean> {
      const [status, latest] = await Promise.all([call('enclave.status', {}), state.latest()]);
      if (status.phase !== 'ready' || !latest || latest.generation <= (status.generation ?? 0))
        return false;
      await call('keyring.reload', { sealed: latest.sealed });
      return true;
    },

    /** When the keyring was last generated or rotated (stored state; a restart keeps it). */
    async lastRotatedAt(): Promise<Date | undefined> {
      const t = await state.latestTime();
      return t === null ? undefined : new Date(t);
    },
  };
}
export type CredentialKeyring = ReturnType<typeof createCredentialKeyring>;
