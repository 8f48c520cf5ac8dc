/**
 * The transparency log, host side. Operations that must be logged run through `commit()`:
 * their database work and their log entries land in ONE transaction, together with the leaves
 * and the checkpoint the enclave signed over them. So an operation is completed with its entry
 * or not at all (fail closed), and nothing is half-written.
 *
 * Appends are batched: operations queue for at most `batchIntervalMs` (or until `batchMax`, or
 * until the batch before them is signed), then one transaction runs every queued operation,
 * writes their deferred rows with one multi-row INSERT per table (db/bulk.ts), has the enclave
 * check and hash all their entries (`log.prepare`), then, under the head lock, append those leaf
 * hashes and sign one checkpoint (`log.append { prepared }`), stores leaves and checkpoint with
 * one statement, and the commit releases every caller with its leaf indexes and that
 * checkpoint. If an operation fails, the batch runs again with a savepoint per operation so that
 * only the failing one is rejected.
 *
 * Batches are pipelined, as far as the head lock below allows: once a batch is signed, the next
 * one is cut and runs its operations (writes its rows), hashes its entries and has the enclave
 * prepare them while the previous one stores its leaves and commits. It takes the head lock and
 * signs only once the previous batch is over (committed and in the tree, or failed and the
 * enclave log stopped), so signing and commits stay in batch order and no batch is ever signed
 * over leaves that were not stored.
 *
 * The in-memory Merkle tree mirrors the stored leaves for proofs; it is rebuilt from the
 * database at start and only extended with leaves that are committed.
 *
 * Several instances may append to one log (issue 13, docs/protocol/transparency-log.md "Several
 * writers"). Each batch transaction, after its operations' rows and before it signs, locks the
 * log head row (`SELECT … FOR UPDATE`), so the signing and commits of batches from every
 * instance run one after another; under the lock it reads the leaves other
 * instances committed since its tree's size, checks them (entry text against leaf hash, the
 * stored checkpoint's root), extends its tree, and hands its enclave that head with an RFC 9162
 * consistency proof from the enclave's last checkpoint. The enclave verifies both before it
 * signs anything after it, so the history stays one append-only tree.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { bytesEqual, bytesToBase64, bytesToHex, hexToBytes } from '../../protocol/encoding.js';
import { logEntryText, type LogEntry } from '../../protocol/log/entry.js';
import { parseCheckpoint } from '../../protocol/log/checkpoint.js';
import {
  CompactRange,
  EMPTY_ROOT,
  MerkleTree,
  leafHashOfText,
  type MerkleStage,
} from '../../protocol/log/merkle.js';
import { parseNote } from '../../protocol/log/note.js';
import {
  LOG_APPEND_MAX_ENTRIES,
  LOG_PREPARED_MAX,
  type MethodName,
  type MethodParams,
  type MethodResult,
} from '../../protocol/rpc/methods.js';
import { BulkRows, type BulkQueryable } from '../db/bulk.js';
import type { Db, Queryable } from '../db/database.js';
import { isEnclaveCallError } from '../enclave-client/rpc-client.js';
import { HostError } from '../errors.js';
import type { LogStore, StoredCheckpoint, StoredLeafRow } from './log-store.js';

/** Leaves read per query while loading (bounded memory on a large log). */
const LOAD_PAGE = 10_000;

/**
 * Batches in flight at once: one committing while the next is built and signed. Their commits
 * stay in order (a batch's checkpoint covers the one before it).
 */
const PIPELINE_DEPTH = 2;

/** Attempts of a batch that PostgreSQL ends in a deadlock or serialization failure. */
const TRANSIENT_ATTEMPTS = 3;

/** PostgreSQL's deadlock_detected (40P01) and serialization_failure (40001): try again. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** Where a batch is: `signed` once it is done with the enclave, `settled` once it is over. */
interface Stage {
  signed: Promise<void>;
  settled: Promise<void>;
  markSigned(): void;
  markSettled(): void;
}

function newStage(): Stage {
  let markSigned!: () => void;
  let markSettled!: () => void;
  const signed = new Promise<void>((r) => (markSigned = r));
  const settled = new Promise<void>((r) => (markSettled = r));
  return { signed, settled, markSigned, markSettled };
}

export interface LogOperation<T> {
  /**
   * Runs inside the batch transaction; returns its result and the entries it must log. Rows it
   * writes with `insertRows` (db/bulk.ts) join the batch's multi-row INSERTs.
   */
  work(tx: BulkQueryable): Promise<{ result: T; entries: LogEntry[] }>;
}

export interface Logged<T> {
  result: T;
  /** Leaf indexes of this operation's entries, in order. */
  indexes: number[];
  /** The checkpoint that covers them (the latest one if the operation logged nothing). */
  checkpoint: StoredCheckpoint;
}

type Call = <M extends MethodName>(method: M, params: MethodParams<M>) => Promise<MethodResult<M>>;

interface Pending {
  op: LogOperation<unknown>;
  resolve(v: Logged<unknown>): void;
  reject(e: unknown): void;
}

export interface LogServiceDeps {
  db: Pick<Db, 'transaction'>;
  store: LogStore;
  enclave: { call: Call };
  logger: Pick<Logger, 'error' | 'warn' | 'info'>;
  batchIntervalMs: number;
  batchMax: number;
  /** The enclave signed a batch that could not be stored: it must restart from durable state. */
  onDiverged(): void;
  /** Batch size and commit time (cloister_log_append_*). */
  metrics?: Pick<Metrics, 'logBatch'>;
}

/** An entry as this host stores it: canonical text, leaf hash (bytes and hex). */
interface PreparedEntry {
  text: string;
  hash: Uint8Array;
  hex: string;
}

/** Whether the enclave's leaf hashes (base64, as its answers spell them) are exactly `ours`. */
function sameLeafHashes(theirs: readonly string[], ours: readonly PreparedEntry[]): boolean {
  return (
    theirs.length === ours.length && theirs.every((h, i) => h === bytesToBase64(ours[i]!.hash))
  );
}

/**
 * What the enclave's `log.append` answer for `chunk` must be, worked out on this side (while the
 * call is in flight): `range` (the tree's stage) extended with the chunk's leaf hashes, its
 * size and root, and the leaf rows to store.
 */
function expect(
  range: MerkleStage,
  first: number,
  chunk: readonly LogEntry[],
  ours: readonly PreparedEntry[],
) {
  for (const x of ours) range.append(x.hash);
  return {
    size: range.size,
    root: range.root(),
    leaves: chunk.map((e, i): StoredLeafRow => ({
      index: first + i,
      entry: ours[i]!.text,
      leafHash: ours[i]!.hex,
      subject: e.subject,
      eventType: e.type,
    })),
  };
}

export function createLogService(deps: LogServiceDeps) {
  const tree = new MerkleTree();
  let latest: StoredCheckpoint | null = null;
  let origin = '';
  let ready = false;
  /** load() found stored entry text that does not hash to its stored leaf hash. */
  let refused = false;
  const queue: Pending[] = [];
  let timer: NodeJS.Timeout | null = null;
  /** Batches in flight (at most PIPELINE_DEPTH), and whether one is still before its signing. */
  const running = new Set<Promise<void>>();
  let inFlight = 0;
  let building = false;
  /** The newest batch's stage: the next batch signs after it and commits after it. */
  let last: Stage = newStage();
  last.markSigned();
  last.markSettled();
  /** Counts divergences: a batch signed in an older epoch must not commit. */
  let epoch = 0;
  /** The checkpoint this process's enclave holds (it signed it or was moved to it). */
  let enclaveAt: StoredCheckpoint | null = null;

  /**
   * Adds committed leaves starting at index `first` to the tree. Idempotent: a leaf already in
   * the tree must have the same hash (the sync from the database and a batch's own commit may
   * both bring it); a gap is refused.
   */
  function extend(first: number, hashes: readonly Uint8Array[]): void {
    for (let i = 0; i < hashes.length; i++) {
      const index = first + i;
      if (index < tree.size) {
        if (!bytesEqual(tree.leafHash(index), hashes[i]!)) {
          throw new HostError('LOG_UNAVAILABLE');
        }
      } else if (index === tree.size) {
        tree.append(hashes[i]!);
      } else {
        throw new HostError('LOG_UNAVAILABLE');
      }
    }
  }

  /**
   * Brings the tree and `latest` up to the newest stored checkpoint (leaves other instances
   * committed). Each read leaf's text must hash to its stored leaf hash and the result must
   * match the stored checkpoint's root; otherwise nothing is taken and LOG_UNAVAILABLE is
   * thrown (the enclave would refuse such a head anyway). `q`: the batch transaction, and
   * `locked` the head it read with the head lock (`store.lockHead`); without them a plain read
   * (the read routes).
   */
  async function catchUp(q?: Queryable, locked?: StoredCheckpoint | null): Promise<void> {
    const head = q ? (locked ?? null) : await deps.store.latestCheckpoint();
    if (!head || (latest && head.size <= latest.size)) {
      if (q && latest && (!head || head.size < latest.size)) {
        // The stored log is behind what this instance committed (or its head is gone): rolled
        // back under it.
        throw new HostError('LOG_UNAVAILABLE');
      }
      return;
    }
    if (head.size > tree.size) {
      const from = tree.size;
      const rows = await deps.store.entries(from, head.size, q);
      const hashes = rows.map((r, i) => {
        const h = hexToBytes(r.leafHash);
        if (r.index !== from + i || !bytesEqual(leafHashOfText(r.entry), h)) {
          throw new HostError('LOG_UNAVAILABLE');
        }
        return h;
      });
      if (hashes.length !== head.size - from) throw new HostError('LOG_UNAVAILABLE');
      const check = CompactRange.fromState(from, tree.compactRange(from));
      for (const h of hashes) check.append(h);
      if (bytesToBase64(check.root()) !== head.rootHash) throw new HostError('LOG_UNAVAILABLE');
      extend(from, hashes);
    }
    if (bytesToBase64(tree.root(head.size)) !== head.rootHash) {
      throw new HostError('LOG_UNAVAILABLE');
    }
    // Only forward: a plain read (a read route's sync) that read its head before the awaits
    // above may resume after a batch of this instance committed a larger one. Taking the older
    // head then would serve a checkpoint smaller than one already served (a monitor's "log
    // shrank" alarm on an honest log).
    if (!latest || head.size > latest.size) latest = head;
  }

  /** What the enclave needs to move from its checkpoint to `latest` (null: it is there). */
  function headForEnclave(): MethodParams<'log.append'>['head'] {
    if (!latest || !enclaveAt || latest.note === enclaveAt.note) return undefined;
    return {
      checkpoint: latest.note,
      frontier: tree.compactRange(latest.size).map(bytesToBase64),
      proof:
        enclaveAt.size === 0
          ? []
          : tree.consistencyProof(enclaveAt.size, latest.size).map(bytesToBase64),
    };
  }

  /**
   * Rebuilds the tree from the stored leaves and checks it against the latest checkpoint. In
   * the same pass every entry text is re-hashed against its stored leaf hash: the enclave only
   * sees the frontier (built from the hashes), so an entry rewritten with its hash kept passes
   * that check and would be served as if nothing happened. Such a log is refused like a
   * frontier the enclave refuses: nothing more is logged until an operator repairs it.
   */
  async function load(): Promise<void> {
    latest = await deps.store.latestCheckpoint();
    let altered = 0;
    let firstAltered = -1;
    for (let from = 0; ;) {
      const page = await deps.store.leavesFrom(from, LOAD_PAGE);
      for (const leaf of page) {
        // A missing index (a deleted row) shifts every later leaf: refused the same way.
        const ok =
          leaf.index === tree.size && bytesToHex(leafHashOfText(leaf.entry)) === leaf.leafHash;
        if (!ok && altered++ === 0) firstAltered = leaf.index;
        tree.append(hexToBytes(leaf.leafHash));
        from = leaf.index + 1;
      }
      if (page.length < LOAD_PAGE) break;
    }
    refused = altered > 0;
    if (refused) {
      deps.logger.error(
        {
          event: 'log.entry_altered',
          code: 'LOG_STATE_INVALID',
          firstIndex: firstAltered,
          leaves: altered,
        },
        'stored log entry does not match its leaf hash; logging refused until the stored log is repaired',
      );
    }
    const expected = latest?.size ?? 0;
    if (tree.size !== expected || (latest && bytesToBase64(tree.root()) !== latest.rootHash)) {
      // Stored leaves and checkpoint disagree: someone edited the tables. The enclave refuses
      // this state (a frontier that does not hash to its signed root).
      deps.logger.error(
        { leaves: tree.size, checkpointSize: expected },
        'stored log is inconsistent',
      );
    }
  }

  /** Hands the enclave the durable state (on every enclave start). */
  async function initEnclave(call: Call): Promise<void> {
    ready = false;
    if (refused) {
      // load() found an entry that is not what its leaf hash says: never resume appending to it.
      deps.logger.error({ code: 'LOG_STATE_INVALID' }, 'stored log refused at load; log not ready');
      return;
    }
    // Other instances may have appended since load().
    try {
      await catchUp();
    } catch (err) {
      deps.logger.error({ code: (err as { code?: string }).code }, 'stored log head unreadable');
      return;
    }
    const frontier = latest ? tree.compactRange(latest.size).map(bytesToBase64) : [];
    let res: MethodResult<'log.init'>;
    try {
      res = await call('log.init', { checkpoint: latest?.note ?? null, frontier });
    } catch (err) {
      if ((err as { code?: string }).code !== 'LOG_STATE_INVALID') throw err;
      // The stored log is not one the enclave signed (altered leaves, a forged checkpoint).
      // Everything that must be logged now fails closed; the enclave still attests.
      deps.logger.error({ code: 'LOG_STATE_INVALID' }, 'enclave refused the stored log state');
      return;
    }
    origin = res.origin;
    if (!latest) {
      const cp = { size: 0, rootHash: bytesToBase64(EMPTY_ROOT), note: res.checkpoint };
      // Two instances may start on an empty log at once: the first one stores the empty
      // checkpoint, the other finds it under the lock (the same signed note: same key, same
      // text, deterministic Ed25519).
      await deps.db.transaction(async (tx) => {
        if (!(await deps.store.lockHead(tx))) await deps.store.insertCheckpoint(tx, cp);
      });
      latest = cp;
    }
    enclaveAt = { size: res.size, rootHash: '', note: res.checkpoint };
    ready = true;
  }

  function commit<T>(op: LogOperation<T>): Promise<Logged<T>> {
    if (!ready || !latest) return Promise.reject(new HostError('LOG_UNAVAILABLE'));
    return new Promise<Logged<T>>((resolve, reject) => {
      queue.push({ op, resolve: resolve as (v: Logged<unknown>) => void, reject });
      schedule();
    });
  }

  /**
   * Starts a batch when `batchMax` operations wait or the oldest has waited `batchIntervalMs`.
   * While a batch is being built and signed, arrivals queue; once it is signed (and while it
   * commits), what queued meanwhile goes at once as the next batch. So under load batches
   * grow instead of queueing behind each other, and the next batch's rows are written while
   * the previous one commits (at most PIPELINE_DEPTH batches in flight).
   */
  function schedule(): void {
    if (building || inFlight >= PIPELINE_DEPTH) return;
    if (queue.length >= deps.batchMax) startBatch();
    else timer ??= setTimeout(startBatch, deps.batchIntervalMs);
  }

  function startBatch(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    if (building || inFlight >= PIPELINE_DEPTH || queue.length === 0) return;
    if (!ready) {
      // The enclave log went away (divergence, restart): nothing queued may complete.
      for (const p of queue.splice(0)) p.reject(new HostError('LOG_UNAVAILABLE'));
      return;
    }
    const batch = queue.splice(0, deps.batchMax);
    const prev = last;
    const stage = newStage();
    last = stage;
    building = true;
    inFlight++;
    // The next batch may be cut once this one is signed (this one then only stores and commits).
    void stage.signed.then(() => {
      building = false;
      if (queue.length > 0) startBatch();
    });
    const run = runBatch(batch, prev, stage)
      .catch((err: unknown) => deps.logger.error({ err }, 'log batch crashed'))
      .finally(() => {
        stage.markSigned();
        stage.markSettled();
        running.delete(run);
        inFlight--;
        if (queue.length > 0) startBatch();
      });
    running.add(run);
  }

  /**
   * Runs a batch without savepoints first (two round trips fewer per operation). If one
   * operation fails, that transaction is rolled back before anything reached the enclave and
   * the batch runs again with a savepoint per operation, so the failing one is rejected alone.
   * An operation's `work` must therefore only touch the database (it may run twice).
   */
  async function runBatch(batch: Pending[], prev: Stage, stage: Stage): Promise<void> {
    const started = performance.now();
    if ((await attemptRetrying(batch, false, prev, stage)) === 'retry')
      await attemptRetrying(batch, true, prev, stage);
    deps.metrics?.logBatch(batch.length, (performance.now() - started) / 1000);
  }

  /**
   * attemptBatch, run again while PostgreSQL ends its transaction to resolve a deadlock (40P01:
   * two instances' batches claiming the same envelopes in opposite order) or a serialization
   * failure (40001). Such a batch has reached neither the enclave nor the commit: it is rolled
   * back whole and runs again (its operations that were rejected already are left out), at most
   * TRANSIENT_ATTEMPTS times in all; the claims then get their usual answer (ENVELOPE_REPLAYED
   * for the one that lost), not a raw 500. If it still fails, every operation fails with
   * LOG_UNAVAILABLE.
   */
  async function attemptRetrying(
    batch: Pending[],
    isolated: boolean,
    prev: Stage,
    stage: Stage,
  ): Promise<'done' | 'retry'> {
    let left = batch;
    for (let attempt = 1; ; attempt++) {
      const rejected = new Set<Pending>();
      const tracked = left.map((p) => ({
        ...p,
        reject: (e: unknown) => {
          rejected.add(p);
          p.reject(e);
        },
      }));
      const outcome = await attemptBatch(tracked, isolated, prev, stage);
      if (outcome !== 'transient') return outcome;
      left = left.filter((p) => !rejected.has(p));
      if (attempt === TRANSIENT_ATTEMPTS) {
        deps.logger.warn({ attempts: attempt }, 'log batch failed');
        for (const p of left) p.reject(new HostError('LOG_UNAVAILABLE'));
        return 'done';
      }
    }
  }

  /** `tx` with a fresh collector for the multi-row INSERTs (db/bulk.ts). */
  const withBulk = (tx: Queryable): BulkQueryable => ({
    query: (sql, params, options) => tx.query(sql, params, options),
    exec: (sql) => tx.exec(sql),
    bulk: new BulkRows(),
  });

  async function attemptBatch(
    batch: Pending[],
    isolated: boolean,
    prev: Stage,
    stage: Stage,
  ): Promise<'done' | 'retry' | 'transient'> {
    const done: { p: Pending; result: unknown; entries: LogEntry[] }[] = [];
    // Appended leaf hashes and the last checkpoint, once the enclave has signed anything.
    let appended: { leafHashes: Uint8Array[]; checkpoint: string; size: number } | null = null;
    // A log.append went out: from then on the enclave may have signed, even if no answer (or an
    // unreadable one) comes back, as when the call times out while the enclave works on it.
    let sent = false;
    /** The divergence epoch in which this batch was signed. */
    let signedIn = -1;
    const RETRY = Symbol('retry with savepoints');
    try {
      await deps.db.transaction(async (tx) => {
        if (!isolated) {
          // Every operation's deferred rows go out together: one INSERT per table.
          const btx = withBulk(tx);
          try {
            for (const p of batch) done.push({ p, ...(await p.op.work(btx)) });
            await btx.bulk.flush(tx);
          } catch {
            throw RETRY;
          }
        } else {
          for (const p of batch) {
            await tx.query('SAVEPOINT log_op');
            try {
              const btx = withBulk(tx);
              const out = await p.op.work(btx);
              await btx.bulk.flush(tx);
              await tx.query('RELEASE SAVEPOINT log_op');
              done.push({ p, ...out });
            } catch (err) {
              if (isTransient(err)) throw err; // the whole batch runs again (attemptRetrying)
              await tx.query('ROLLBACK TO SAVEPOINT log_op');
              p.reject(err);
            }
          }
        }
        const entries = done.flatMap((d) => d.entries);
        // The enclave's per-entry work (its params check, canonical bytes and leaf hashes) does
        // not depend on the head: `log.prepare` does it here, per chunk, while the previous batch
        // stores and commits, so that under the lock `log.append { prepared }` only extends the
        // tree and signs. The calls go out first and this side hashes the same entries while the
        // enclave works (the frames are written on a later tick: yield once so they go first).
        // Every attempt prepares afresh (its entries may differ: a retried batch leaves out the
        // operations it rejected); an id it leaves unused is dropped by the enclave, which holds
        // LOG_PREPARED_MAX (oldest out). A batch of more chunks than that sends the rest with
        // their entries under the lock.
        const preparing: Promise<MethodResult<'log.prepare'>>[] = [];
        for (let at = 0; at < entries.length; at += LOG_APPEND_MAX_ENTRIES) {
          if (preparing.length === LOG_PREPARED_MAX) break;
          const chunk = entries.slice(at, at + LOG_APPEND_MAX_ENTRIES);
          const call = (async () => deps.enclave.call('log.prepare', { entries: chunk }))();
          void call.catch(() => undefined);
          preparing.push(call);
        }
        if (preparing.length > 0) await new Promise<void>((r) => setImmediate(r));
        // Each entry's canonical bytes, hashed here and stored as the leaf's text below. None of
        // it depends on the head, so it is done before the wait and the lock (while the previous
        // batch commits): under the lock only the enclave call and the stores remain.
        // An entry that cannot be canonicalized fails the batch, but only once the previous
        // batch is over, as any failure after the operations' work does (a batch is never over
        // before the one ahead of it).
        let prepared: PreparedEntry[] = [];
        let unprepared: unknown = null;
        try {
          prepared = entries.map((e) => {
            const text = logEntryText(e);
            const hash = leafHashOfText(text);
            return { text, hash, hex: bytesToHex(hash) };
          });
        } catch (err) {
          unprepared = err ?? new Error('entry not canonical');
        }
        // The enclave's leaf hashes must be ours. A failed call or a mismatch fails the batch in
        // the same way, once the previous batch is over: nothing was signed, so no divergence.
        const preparedIds: string[] = [];
        for (const [k, call] of preparing.entries()) {
          try {
            const res = await call;
            const at = k * LOG_APPEND_MAX_ENTRIES;
            const ours = prepared.slice(at, at + LOG_APPEND_MAX_ENTRIES);
            if (!unprepared && !sameLeafHashes(res.leaf_hashes, ours)) {
              throw new HostError('LOG_UNAVAILABLE');
            }
            preparedIds.push(res.id);
          } catch (err) {
            unprepared ??= err ?? new Error('log.prepare failed');
          }
        }
        // Only this batch's rows overlap the previous batch's commit. It holds the head lock
        // until it commits, so signing waits for it anyway; waiting for it to be over here
        // (committed and in the tree, or failed and the enclave log stopped) means this batch
        // never signs over leaves that are not stored, and the head read under the lock below
        // is the committed one.
        await prev.settled;
        if (unprepared) throw unprepared;
        if (!ready) throw new HostError('LOG_UNAVAILABLE');
        // Serialized with every other writer of this log; then start from the stored head
        // (leaves other instances committed since this tree's size).
        await catchUp(tx, await deps.store.lockHead(tx));
        // The checkpoints must be over exactly the stored leaves plus these.
        // Staged on the tree: once committed, extend() takes the node hashes computed here.
        const range = tree.stage();
        signedIn = epoch;
        // Every chunk's leaves and checkpoint, written once the enclave is done with the batch.
        const writes: { leaves: StoredLeafRow[]; checkpoint: StoredCheckpoint }[] = [];
        try {
          // One enclave call takes at most LOG_APPEND_MAX_ENTRIES (a large TTL sweep has more).
          for (let at = 0, k = 0; at < entries.length; at += LOG_APPEND_MAX_ENTRIES, k++) {
            const chunk = entries.slice(at, at + LOG_APPEND_MAX_ENTRIES);
            const first = range.size;
            const head = at === 0 ? headForEnclave() : undefined;
            // The prepared chunk's id (no entries go out again), or its entries.
            const id = preparedIds[k];
            sent = true;
            const answer = deps.enclave.call('log.append', {
              ...(id === undefined ? { entries: chunk } : { prepared: id }),
              ...(head ? { head } : {}),
            });
            // While the enclave hashes and signs, work out here what its answer must be and the
            // rows to store (the head lock is held, so this time is the next batch's wait too).
            // The call's frame is written on a later tick: yield once so that it goes first.
            // Whatever happens here, the answer is awaited before anything is thrown, so that a
            // signed append is always known (`appended`) and handled as a divergence.
            void answer.catch(() => undefined);
            const ours = prepared.slice(at, at + chunk.length);
            await new Promise<void>((r) => setImmediate(r));
            let expected: ReturnType<typeof expect> | undefined;
            let failed: unknown = null;
            try {
              expected = expect(range, first, chunk, ours);
            } catch (err) {
              failed = err ?? new Error('append not checkable');
            }
            const res = await answer;
            appended = {
              leafHashes: [...(appended?.leafHashes ?? []), ...ours.map((x) => x.hash)],
              checkpoint: res.checkpoint,
              size: res.size,
            };
            enclaveAt = { size: res.size, rootHash: '', note: res.checkpoint };
            if (!expected) throw failed;
            // A prepared append's answer has no leaf hashes (the prepare answer's were checked,
            // and the checkpoint's root below covers them); an append of entries has them.
            const hashes = res.leaf_hashes;
            if (
              res.first_index !== first ||
              (hashes === undefined ? id === undefined : !sameLeafHashes(hashes, ours))
            ) {
              throw new Error('enclave log diverged from the stored log');
            }
            const cp = parseCheckpoint(parseNote(res.checkpoint).text);
            // `res.size` places the leaves in this tree once the batch has committed: it must be
            // the checkpoint's size, or the commit would throw after it and leave callers waiting.
            if (
              res.size !== expected.size ||
              cp.size !== expected.size ||
              !bytesEqual(cp.rootHash, expected.root)
            ) {
              throw new Error('enclave checkpoint does not cover the appended leaves');
            }
            writes.push({
              leaves: expected.leaves,
              checkpoint: {
                size: cp.size,
                rootHash: bytesToBase64(cp.rootHash),
                note: res.checkpoint,
              },
            });
          }
        } finally {
          // The next batch may be cut now and write its rows while this one stores and commits.
          stage.markSigned();
        }
        // The leaves and the checkpoint over them: one statement per enclave append.
        for (const w of writes)
          await deps.store.insertLeavesWithCheckpoint(tx, w.leaves, w.checkpoint);
        // A batch signed in an older divergence epoch never commits (the enclave log was
        // restarted from the stored state since). Batches sign only after the one before them
        // is over, so this is a guard, not a path.
        if (signedIn !== epoch) throw new HostError('LOG_UNAVAILABLE');
      });
    } catch (err) {
      if (err === RETRY) return 'retry';
      if (isTransient(err) && !sent) return 'transient';
      const failure = err instanceof HostError ? err : new HostError('LOG_UNAVAILABLE');
      for (const d of done) d.p.reject(failure);
      // A call that went out and failed may have been signed (a timeout while the enclave
      // works, an answer lost or unreadable); the enclave then holds a head that is not stored,
      // and would refuse the head of another instance's commit (its proof is from the stored
      // checkpoint). Only a lost connection is left to the enclave's own restart. An append whose
      // prepared id the enclave does not hold (restarted since the prepare, evicted) signed
      // nothing: the id is taken before anything else, and an earlier call that signed is in
      // `appended` (the calls are made one at a time).
      const maybeSigned =
        sent &&
        !isEnclaveCallError(err, 'ENCLAVE_UNAVAILABLE') &&
        !isEnclaveCallError(err, 'LOG_PREPARED_UNKNOWN');
      if ((appended || maybeSigned) && signedIn === epoch) {
        // The enclave has signed past what is stored (or may have). Stop logging and let it
        // restart from the durable state; until then commits fail closed. The next batch,
        // waiting for this one to be over, finds the log not ready and fails without reaching
        // the enclave.
        epoch++;
        ready = false;
        deps.logger.error(
          { code: (err as { code?: string }).code },
          'log batch not stored; restarting enclave log',
        );
        deps.onDiverged();
      } else {
        deps.logger.warn({ code: (err as { code?: string }).code }, 'log batch failed');
      }
      return 'done';
    }
    const result = appended as {
      leafHashes: Uint8Array[];
      checkpoint: string;
      size: number;
    } | null;
    let next = result ? result.size - result.leafHashes.length : tree.size;
    if (result) {
      extend(next, result.leafHashes);
      if (!latest || result.size > latest.size) {
        latest = {
          size: result.size,
          rootHash: bytesToBase64(tree.root(result.size)),
          note: result.checkpoint,
        };
      }
    }
    stage.markSettled();
    for (const d of done) {
      const indexes = d.entries.map(() => next++);
      d.p.resolve({ result: d.result, indexes, checkpoint: latest! });
    }
    return 'done';
  }

  return {
    load,
    initEnclave,
    commit,
    isReady: () => ready,
    /**
     * Reads what other instances appended since (the read routes call it, so that any member
     * serves the whole log). A failure keeps the state held and is logged.
     */
    async sync(): Promise<void> {
      try {
        await catchUp();
      } catch (err) {
        deps.logger.warn({ code: (err as { code?: string }).code }, 'log sync failed');
      }
    },
    origin: () => origin,
    latest: () => latest,
    tree: () => tree,
    /** Waits for every queued batch (tests, shutdown). */
    async drain(): Promise<void> {
      if (timer) startBatch();
      while (running.size > 0) await Promise.all(running);
    },
  };
}
export type LogService = ReturnType<typeof createLogService>;
