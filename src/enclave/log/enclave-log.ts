/**
 * The enclave's side of the transparency log: the tree's compact state (the right-edge
 * subtree roots, O(log n) hashes) and the log key. Every append extends the tree and signs a
 * C2SP checkpoint over it, so the enclave never signs two checkpoints that disagree while it
 * runs. After a restart it resumes only from a checkpoint it can verify as its own, with a
 * frontier that hashes to that checkpoint's root: a host that altered a stored leaf (or its
 * hash) cannot produce such a frontier. A host that presents an older, genuine state instead
 * (a rollback) makes the next checkpoint inconsistent with ones already published, which any
 * monitor or witness holding those detects (docs/protocol/transparency-log.md).
 */
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { bytesEqual } from '../../protocol/encoding.js';
import { formatCheckpoint, verifyCheckpointNote } from '../../protocol/log/checkpoint.js';
import { logEntryLeafHash, type LogEntry } from '../../protocol/log/entry.js';
import { CompactRange, verifyConsistency } from '../../protocol/log/merkle.js';
import { signNote } from '../../protocol/log/note.js';
import { logOrigin } from '../../protocol/log/origin.js';
import { RpcError } from '../../protocol/rpc/errors.js';
import { LOG_PREPARED_MAX } from '../../protocol/rpc/methods.js';

export interface LogAppendResult {
  firstIndex: number;
  leafHashes: Uint8Array[];
  checkpoint: string;
}

export class EnclaveLog {
  /** The size the log was opened at in this process: 0 for a log with no stored state. */
  readonly startSize: number;
  /**
   * Prepared appends (`prepare`), oldest first: their leaf hashes packed 32 bytes each, so the
   * whole store stays within LOG_PREPARED_MAX × LOG_APPEND_MAX_ENTRIES × 32 bytes.
   */
  private readonly prepared = new Map<string, Uint8Array>();

  private constructor(
    readonly origin: string,
    private readonly key: KeyObject,
    private readonly publicKey: Uint8Array,
    private range: CompactRange,
    private note: string,
  ) {
    this.startSize = range.size;
  }

  /**
   * A log with no stored state: the empty tree and its signed checkpoint. Or a log resumed from
   * the host's latest checkpoint and the frontier at its size, both verified here.
   */
  static async open(
    key: KeyObject,
    publicKey: Uint8Array,
    stored: { checkpoint: string | null; frontier: readonly Uint8Array[] },
  ): Promise<EnclaveLog> {
    const origin = logOrigin(publicKey);
    if (stored.checkpoint === null) {
      if (stored.frontier.length > 0) throw new RpcError('LOG_STATE_INVALID');
      const log = new EnclaveLog(origin, key, publicKey, CompactRange.empty(), '');
      log.note = await log.signCurrent();
      return log;
    }
    const verified = verifyCheckpointNote(stored.checkpoint, { name: origin, publicKey });
    const cp = verified.checkpoint;
    if (!verified.valid || !cp || cp.origin !== origin) throw new RpcError('LOG_STATE_INVALID');
    let range: CompactRange;
    try {
      range = CompactRange.fromState(cp.size, stored.frontier);
    } catch {
      throw new RpcError('LOG_STATE_INVALID');
    }
    if (!bytesEqual(range.root(), cp.rootHash)) throw new RpcError('LOG_STATE_INVALID');
    return new EnclaveLog(origin, key, publicKey, range, stored.checkpoint);
  }

  get size(): number {
    return this.range.size;
  }

  root(): Uint8Array {
    return this.range.root();
  }

  checkpoint(): string {
    return this.note;
  }

  /**
   * Moves to a head another member of the cluster signed (same log key) after this enclave's
   * last checkpoint: only if its signature verifies, an RFC 9162 consistency proof shows it
   * extends the checkpoint held here, and the frontier hashes to its root. So whatever the host
   * hands over, the history this enclave signs stays one append-only tree: a fork, a rollback
   * or a dropped leaf between the two checkpoints fails the proof (LOG_STATE_INVALID), and
   * nothing changes here.
   */
  advance(head: {
    checkpoint: string;
    frontier: readonly Uint8Array[];
    proof: readonly Uint8Array[];
  }): void {
    if (head.checkpoint === this.note) return;
    const verified = verifyCheckpointNote(head.checkpoint, {
      name: this.origin,
      publicKey: this.publicKey,
    });
    const cp = verified.checkpoint;
    if (!verified.valid || !cp || cp.origin !== this.origin)
      throw new RpcError('LOG_STATE_INVALID');
    const consistent =
      this.range.size === 0
        ? head.proof.length === 0
        : verifyConsistency(this.range.size, cp.size, this.range.root(), cp.rootHash, head.proof);
    if (!consistent) throw new RpcError('LOG_STATE_INVALID');
    let range: CompactRange;
    try {
      range = CompactRange.fromState(cp.size, head.frontier);
    } catch {
      throw new RpcError('LOG_STATE_INVALID');
    }
    if (!bytesEqual(range.root(), cp.rootHash)) throw new RpcError('LOG_STATE_INVALID');
    this.range = range;
    this.note = head.checkpoint;
  }

  async append(entries: readonly LogEntry[]): Promise<LogAppendResult> {
    const leafHashes = entries.map(logEntryLeafHash);
    return { ...(await this.appendHashes(leafHashes)), leafHashes };
  }

  /**
   * The per-entry half of an append (`log.prepare`), which does not depend on the tree: the
   * entries' leaf hashes, kept under a fresh random id for one `appendPrepared`. Holds at most
   * LOG_PREPARED_MAX at once (the oldest is dropped), so a host that prepares and never appends
   * costs this process nothing beyond that bound. The hashes are this enclave's own over entries
   * the method table checked: a prepared append signs nothing a plain append could not.
   */
  prepare(entries: readonly LogEntry[]): { id: string; leafHashes: Uint8Array[] } {
    const leafHashes = entries.map(logEntryLeafHash);
    const packed = new Uint8Array(32 * leafHashes.length);
    leafHashes.forEach((h, i) => packed.set(h, 32 * i));
    const id = randomBytes(16).toString('hex');
    while (this.prepared.size >= LOG_PREPARED_MAX) {
      this.prepared.delete(this.prepared.keys().next().value!);
    }
    this.prepared.set(id, packed);
    return { id, leafHashes };
  }

  /**
   * Takes a prepared append's leaf hashes (single use: the id is gone whatever happens next);
   * LOG_PREPARED_UNKNOWN for an id this process does not hold (never issued, used, evicted).
   * Taken before the head is checked, so a failed append cannot leave an id to replay.
   */
  takePrepared(id: string): Uint8Array[] {
    const packed = this.prepared.get(id);
    if (!packed) throw new RpcError('LOG_PREPARED_UNKNOWN');
    this.prepared.delete(id);
    const out: Uint8Array[] = [];
    for (let at = 0; at < packed.length; at += 32) out.push(packed.subarray(at, at + 32));
    // The range may keep its last leaf as is: a copy, so it does not hold the whole buffer.
    if (out.length > 0) out[out.length - 1] = out[out.length - 1]!.slice();
    return out;
  }

  /** Appends leaf hashes this enclave computed (`append`, `takePrepared`) and signs. */
  async appendHashes(
    leafHashes: readonly Uint8Array[],
  ): Promise<{ firstIndex: number; checkpoint: string }> {
    const firstIndex = this.range.size;
    // Extend a copy, so a failure half-way leaves the signed state untouched.
    const next = CompactRange.fromState(this.range.size, this.range.hashes());
    for (const h of leafHashes) next.append(h);
    const note = await this.sign(next);
    this.range = next;
    this.note = note;
    return { firstIndex, checkpoint: note };
  }

  private signCurrent(): Promise<string> {
    return this.sign(this.range);
  }

  private sign(range: CompactRange): Promise<string> {
    const text = formatCheckpoint({
      origin: this.origin,
      size: range.size,
      rootHash: range.root(),
    });
    return signNote(text, [
      {
        name: this.origin,
        publicKey: this.publicKey,
        sign: (message) => new Uint8Array(sign(null, message, this.key)),
      },
    ]);
  }
}
