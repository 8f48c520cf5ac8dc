/**
 * Collects witness cosignatures (C2SP tlog-witness `add-checkpoint`) for the latest checkpoint,
 * so that a split view of the log would need the witnesses' collusion too. Runs in the
 * background: appends never wait for witnesses. Each witness is told the size it last cosigned
 * and a consistency proof from there; a 409 answer tells us its size and we retry once.
 * Cosignatures are checked against the witness key before they are stored and served.
 */
import type { Logger } from 'pino';
import { bytesToBase64 } from '../../protocol/encoding.js';
import { parseCheckpoint, verifyCosignature } from '../../protocol/log/checkpoint.js';
import { parseNote, parseVerifierKey, COSIGNATURE_SIG_TYPE } from '../../protocol/log/note.js';
import type { LogService } from './log-service.js';
import type { LogStore } from './log-store.js';
import { createPeriodicJob } from '../jobs/periodic.js';

export interface WitnessConfig {
  name: string;
  publicKey: Uint8Array;
  /** Submission prefix: `add-checkpoint` is POSTed to `${url}/add-checkpoint`. */
  url: string;
}

/** Parses LOG_WITNESSES: comma-separated "<cosignature vkey> <submission URL>" pairs. */
export function parseWitnesses(spec: string | undefined): WitnessConfig[] {
  if (!spec) return [];
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const [vkey, url, ...rest] = item.split(/\s+/);
      if (!vkey || !url || rest.length > 0 || !URL.canParse(url)) {
        throw new RangeError('each witness is "<vkey> <url>"');
      }
      const key = parseVerifierKey(vkey);
      if (key.sigType !== COSIGNATURE_SIG_TYPE)
        throw new RangeError('witness vkey must be a cosignature (0x04) key');
      return { name: key.name, publicKey: key.publicKey, url: url.replace(/\/+$/, '') };
    });
}

export function createWitnessJob(deps: {
  witnesses: readonly WitnessConfig[];
  log: Pick<LogService, 'latest' | 'tree' | 'sync'>;
  store: Pick<LogStore, 'insertCosignature'>;
  logger: Pick<Logger, 'warn' | 'info' | 'error'>;
  intervalMs: number;
  fetchImpl?: typeof fetch;
}) {
  const doFetch = deps.fetchImpl ?? fetch;
  /** The size each witness last cosigned, as far as we know (0 until it tells us). */
  const known = new Map<string, number>();

  function body(oldSize: number, note: string, size: number): string {
    const proof =
      oldSize > 0 && oldSize < size ? deps.log.tree().consistencyProof(oldSize, size) : [];
    return `old ${oldSize}\n${proof.map((h) => `${bytesToBase64(h)}\n`).join('')}\n${note}`;
  }

  async function submitTo(w: WitnessConfig, note: string, size: number): Promise<void> {
    const text = parseNote(note).text;
    for (let attempt = 0; attempt < 2; attempt++) {
      const oldSize = Math.min(known.get(w.name) ?? 0, size);
      const res = await doFetch(`${w.url}/add-checkpoint`, {
        method: 'POST',
        body: body(oldSize, note, size),
        signal: AbortSignal.timeout(5000),
      });
      const reply = await res.text();
      if (res.status === 409 && /^(0|[1-9][0-9]*)\n$/.test(reply)) {
        const theirs = Number(reply.trim());
        if (theirs > size) {
          // Another member of the cluster may have appended since this run read the head: only
          // a stored log still smaller than the witness's is a rollback (or another instance).
          await deps.log.sync();
          if ((deps.log.latest()?.size ?? 0) >= theirs) return; // the next run sends that head
          deps.logger.warn(
            { witness: w.name, theirs, ours: size },
            'witness has seen a larger log',
          );
          return;
        }
        known.set(w.name, theirs);
        continue;
      }
      if (res.status !== 200) {
        deps.logger.warn({ witness: w.name, status: res.status }, 'witness refused the checkpoint');
        return;
      }
      const lines = reply.split('\n').filter(Boolean);
      const cosigned = parseNote(`x\n\n${lines.map((l) => `${l}\n`).join('')}`).signatures;
      const i = cosigned.findIndex((s) => verifyCosignature(text, s, w).valid);
      if (i < 0) {
        deps.logger.warn({ witness: w.name }, 'witness answered without a valid cosignature');
        return;
      }
      await deps.store.insertCosignature(size, w.name, lines[i]!);
      known.set(w.name, size);
      return;
    }
  }

  async function runOnce(): Promise<void> {
    // Several members append to one log: send the stored head, not the last one this instance
    // committed or read (the witness would answer with its larger size).
    await deps.log.sync();
    const cp = deps.log.latest();
    if (!cp || deps.witnesses.length === 0) return;
    const size = parseCheckpoint(parseNote(cp.note).text).size;
    if (size === 0) return;
    await Promise.all(
      deps.witnesses.map((w) =>
        submitTo(w, cp.note, size).catch((err: unknown) =>
          deps.logger.warn({ witness: w.name, err: (err as Error).name }, 'witness unreachable'),
        ),
      ),
    );
  }

  const job = createPeriodicJob({
    name: 'witness run',
    everyMs: deps.witnesses.length === 0 ? 0 : deps.intervalMs,
    run: runOnce,
    logger: deps.logger,
  });
  return {
    runOnce: () => job.runNow(),
    start: () => job.start(),
    stop: () => job.stop(),
  };
}
export type WitnessJob = ReturnType<typeof createWitnessJob>;
