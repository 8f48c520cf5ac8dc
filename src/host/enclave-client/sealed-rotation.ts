/**
 * The host's half of every sealed-keyring rotation (credential keys, auth signing keys):
 * prepare → persist durably → activate. The enclave prepares a sealed keyring with a new
 * current key but keeps using the old one; the host stores the blob, its ops event and its
 * transparency-log entry in one transaction; only then is the enclave told to activate it (it
 * checks that generation and blob match what it prepared). If storing fails nothing is stored
 * and the old key stays current; if activation fails after storing, the next start unseals the
 * stored keyring, so the logged key is the one used.
 */
import type { LogEntry, LogEntryType } from '../../protocol/log/entry.js';
import type { Queryable } from '../db/database.js';
import type { LogService } from '../log/log-service.js';
import type { OpsEvent, OpsLog } from '../ops-events.js';

export interface PreparedKeyring {
  generation: number;
  sealed: string;
}

export interface SealedRotation<P extends PreparedKeyring, A> {
  /** Asks the enclave for the next sealed keyring (not yet in use). */
  prepare(): Promise<P>;
  /** Stores the prepared blob in `tx`. */
  persist(tx: Queryable, prepared: P): Promise<void>;
  /** The public log entry: its type and subject (the new key's id). */
  logEntry(prepared: P): { type: LogEntryType; subject: string };
  opsEvent(prepared: P): OpsEvent;
  /** Tells the enclave to use what was stored. */
  activate(prepared: P): Promise<A>;
}

export async function rotateSealed<P extends PreparedKeyring, A>(
  deps: { log: Pick<LogService, 'commit'>; ops: OpsLog },
  rotation: SealedRotation<P, A>,
): Promise<A> {
  const prepared = await rotation.prepare();
  await deps.log.commit({
    async work(tx) {
      await rotation.persist(tx, prepared);
      await deps.ops.record(tx, rotation.opsEvent(prepared));
      const entry: LogEntry = {
        v: 1,
        ...rotation.logEntry(prepared),
        time: Math.floor(Date.now() / 1000),
      };
      return { result: undefined, entries: [entry] };
    },
  });
  return rotation.activate(prepared);
}
