/**
 * Reads the transparency log over HTTP and verifies everything it reads (verify-log.ts), and
 * `LogMonitor`, which follows the log and raises an alarm on anything a correct log never does:
 * a bad signature, a shrinking tree, two roots for one size, a failed consistency proof, or
 * served entry text that does not hash to the signed tree.
 */
import { base64ToBytes, bytesToBase64 } from '../../protocol/encoding.js';
import { LogEntrySchema, sessionLogSubject, type LogEntry } from '../../protocol/log/entry.js';
import { WITNESS_SHORTFALL } from '../../protocol/log/checkpoint.js';
import { CompactRange, leafHashOfText } from '../../protocol/log/merkle.js';
import { ClientError } from '../errors.js';
import { answerText, type AnswerBody } from '../service-call.js';
import {
  verifyCheckpointConsistency,
  verifyEntryInclusion,
  verifyLogCheckpoint,
  type LogTrust,
  type VerifiedCheckpoint,
} from './verify-log.js';

type Fetch = (
  url: string,
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> } & AnswerBody>;

/** A fetch Response is read within MAX_ANSWER_BYTES; a custom fetch's `json()` as it comes. */
const readJson = async (res: Awaited<ReturnType<Fetch>>): Promise<unknown> =>
  res.body !== undefined ? JSON.parse(await answerText(res)) : res.json();

export interface VerifiedEntry {
  index: number;
  /** The exact leaf text (RFC 8785 JSON). */
  text: string;
  entry: LogEntry;
}

/** Most entries `/api/log/entries` serves per request. */
const ENTRIES_PAGE = 1000;

/**
 * How far the served entry text has been re-hashed and found to rebuild a verified checkpoint:
 * the compact range (right-edge subtree roots, base64, largest first) of the first `size` leaves.
 */
export interface EntryAudit {
  size: number;
  frontier: string[];
}

export class LogClient {
  private readonly base: string;
  constructor(
    baseUrl: string,
    private readonly trust: LogTrust,
    private readonly fetchImpl: Fetch = (url) => fetch(url),
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  private async get<T>(path: string): Promise<T> {
    const res = await this.fetchImpl(`${this.base}${path}`);
    if (!res.ok) throw new ClientError('HTTP_ERROR', `GET ${path}: ${res.status}`);
    return (await readJson(res)) as T;
  }

  /**
   * Under a witness policy, ask for the newest checkpoint the witnesses cosigned: the newest
   * checkpoint of all is usually not cosigned yet, and would fail the policy for that reason.
   */
  private get witnessed(): string {
    return (this.trust.witnessThreshold ?? 0) > 0 ? '?witnessed=true' : '';
  }

  /** The latest checkpoint, verified against the log key and witness policy. */
  async checkpoint(): Promise<VerifiedCheckpoint> {
    const body = await this.get<{ checkpoint?: unknown }>(`/api/log/checkpoint${this.witnessed}`);
    return this.verified(body.checkpoint);
  }

  /**
   * The other view of the log than `checkpoint()`'s, verified under the log key alone: with a
   * witness policy the newest checkpoint (usually not cosigned yet), else the newest cosigned
   * one (`cosigned`; null while the log has none: 404). Whatever its cosignature lines, the log
   * key's signature makes it this log's word, so it and `checkpoint()`'s must be one history
   * (LogMonitor checks).
   */
  async otherCheckpoint(): Promise<{ checkpoint: VerifiedCheckpoint; cosigned: boolean } | null> {
    const cosigned = !this.witnessed;
    const path = `/api/log/checkpoint${cosigned ? '?witnessed=true' : ''}`;
    const res = await this.fetchImpl(`${this.base}${path}`);
    if (res.status === 404 && cosigned) return null;
    if (!res.ok) throw new ClientError('HTTP_ERROR', `GET ${path}: ${res.status}`);
    const note = ((await readJson(res)) as { checkpoint?: unknown }).checkpoint;
    const v = verifyLogCheckpoint(typeof note === 'string' ? note : '', {
      logPublicKey: this.trust.logPublicKey,
    });
    if (!v.valid)
      throw new ClientError(
        'LOG_INVALID',
        `checkpoint refused: ${v.reasons.join('; ')}`,
        v.reasons,
      );
    return { checkpoint: v.checkpoint, cosigned };
  }

  private verified(note: unknown): VerifiedCheckpoint {
    const v = verifyLogCheckpoint(typeof note === 'string' ? note : '', this.trust);
    if (!v.valid)
      throw new ClientError(
        'LOG_INVALID',
        `checkpoint refused: ${v.reasons.join('; ')}`,
        v.reasons,
      );
    return v.checkpoint;
  }

  /**
   * A session's entries, each proven included in the (verified) checkpoint served with them, in
   * strictly increasing index order (an entry served twice is refused). That proves what is
   * served, not that nothing was left out: with `complete`, every entry up to the checkpoint is
   * also re-hashed (`auditEntries`) and every one of this session's is required in the answer
   * (up to the route's page of LOG_PAGE_MAX entries), else `LOG_INVALID`.
   */
  async sessionEntries(
    sessionId: string,
    opts: { complete?: boolean } = {},
  ): Promise<{ checkpoint: VerifiedCheckpoint; entries: VerifiedEntry[] }> {
    const body = await this.get<{
      checkpoint: { checkpoint: string };
      entries: { index: number; entry: string; proof: string[] }[];
    }>(`/api/logs/${encodeURIComponent(sessionId)}${this.witnessed}`);
    const checkpoint = this.verified(body.checkpoint?.checkpoint);
    const subject = sessionLogSubject(sessionId);
    let previous = -1;
    const entries = (body.entries ?? []).map((e) => {
      if (!verifyEntryInclusion(e.entry, e.index, e.proof, checkpoint)) {
        throw new ClientError('LOG_INVALID', `entry ${e.index} is not included in the checkpoint`);
      }
      if (e.index <= previous) {
        throw new ClientError('LOG_INVALID', `entry ${e.index} is served twice or out of order`);
      }
      previous = e.index;
      const parsed = LogEntrySchema.safeParse(JSON.parse(e.entry));
      if (!parsed.success || parsed.data.subject !== subject) {
        throw new ClientError('LOG_INVALID', `entry ${e.index} is not an entry of this session`);
      }
      return { index: e.index, text: e.entry, entry: parsed.data };
    });
    if (opts.complete) {
      const served = new Set(entries.map((e) => e.index));
      // The route lists at most one page: past a full page, later entries are not owed.
      const owedUpTo = entries.length >= ENTRIES_PAGE ? previous : Infinity;
      const missing: number[] = [];
      await this.auditEntries(checkpoint, undefined, (index, text) => {
        if (index > owedUpTo || served.has(index) || !text.includes(subject)) return;
        try {
          if ((JSON.parse(text) as { subject?: unknown }).subject === subject) missing.push(index);
        } catch {
          // Not JSON: not an entry the enclave hashed, so the audit's root check refuses it.
        }
      });
      if (missing.length > 0) {
        throw new ClientError(
          'LOG_INVALID',
          `the log left out entry ${missing[0]} of this session`,
        );
      }
    }
    return { checkpoint, entries };
  }

  /**
   * Re-hashes the entry text `/api/log/entries` serves for leaves [`from.size`, checkpoint size)
   * and checks that, appended to `from` (default: the empty tree), it rebuilds the checkpoint's
   * root. This catches what proofs alone do not: the host's tree and checkpoints are built from
   * stored leaf hashes, so entry text rewritten in its database would still be served with valid
   * proofs for the old hashes. Throws `LOG_INVALID` when it does not rebuild.
   */
  async auditEntries(
    checkpoint: Pick<VerifiedCheckpoint, 'size' | 'rootHash'>,
    from: EntryAudit = { size: 0, frontier: [] },
    /** Sees each re-hashed entry; what it learns holds only if the audit then succeeds. */
    onEntry?: (index: number, text: string) => void,
  ): Promise<EntryAudit> {
    const range = CompactRange.fromState(from.size, from.frontier.map(base64ToBytes));
    // The served leaf_hash is not trusted; it only names the entry that differs, if one does.
    let differs: number | null = null;
    while (range.size < checkpoint.size) {
      const start = range.size;
      const end = Math.min(start + ENTRIES_PAGE, checkpoint.size);
      const body = await this.get<{ entries?: unknown }>(
        `/api/log/entries?start=${start}&end=${end}`,
      );
      const entries = Array.isArray(body.entries) ? body.entries : [];
      if (entries.length !== end - start) {
        throw new ClientError(
          'LOG_INVALID',
          `log served ${entries.length} entries for [${start}, ${end})`,
        );
      }
      for (const e of entries as { index?: unknown; entry?: unknown; leaf_hash?: unknown }[]) {
        if (e.index !== range.size || typeof e.entry !== 'string') {
          throw new ClientError('LOG_INVALID', `log served a malformed entry at ${range.size}`);
        }
        const leaf = leafHashOfText(e.entry);
        onEntry?.(range.size, e.entry);
        if (differs === null && e.leaf_hash !== bytesToBase64(leaf)) differs = range.size;
        range.append(leaf);
      }
    }
    if (range.size !== checkpoint.size || bytesToBase64(range.root()) !== checkpoint.rootHash) {
      const which = differs === null ? '' : ` (entry ${differs} does not hash to its leaf hash)`;
      throw new ClientError(
        'LOG_INVALID',
        `served entries do not hash to the root of checkpoint ${checkpoint.size}: entry text altered${which}`,
      );
    }
    return { size: range.size, frontier: range.hashes().map(bytesToBase64) };
  }

  /**
   * Proves `newer` extends `older` with a consistency proof fetched from the log. A log that
   * refuses the request as out of range (400: it cannot produce the proof) has failed to prove
   * consistency: false. Network trouble, rate limits and 5xx throw: not evidence either way.
   */
  async consistent(older: VerifiedCheckpoint, newer: VerifiedCheckpoint): Promise<boolean> {
    if (newer.size < older.size) return false;
    if (older.size === 0 || older.size === newer.size)
      return verifyCheckpointConsistency(older, newer, []);
    const path = `/api/log/proof/consistency?from=${older.size}&to=${newer.size}`;
    const res = await this.fetchImpl(`${this.base}${path}`);
    if (res.status === 400) return false;
    if (!res.ok) throw new ClientError('HTTP_ERROR', `GET ${path}: ${res.status}`);
    const body = (await readJson(res)) as { proof?: unknown };
    const proof = Array.isArray(body.proof) ? body.proof.filter((p) => typeof p === 'string') : [];
    return verifyCheckpointConsistency(older, newer, proof);
  }
}

export interface MonitorReport {
  checkpoint: VerifiedCheckpoint | null;
  /** Set when the log misbehaved; the monitor keeps its last good checkpoint. */
  alarm: string | null;
  /**
   * Entries an operator wants to hear of (not misbehaviour), among those this poll re-hashed:
   * each `cluster.manifest_changed` (a reshare: who holds the cluster's shares changed), as
   * `entry N: cluster.manifest_changed (cluster ID, manifest DIGEST)`. Empty on an alarm.
   */
  notices: string[];
}

/** Entry types a monitor reports as notices (MonitorReport.notices), by their text. */
const NOTICE_TYPE = '"type":"cluster.manifest_changed"';

/** The notice for a re-hashed entry, or null (not a noticed type, or not a log entry). */
function noticeOf(index: number, text: string): string | null {
  if (!text.includes(NOTICE_TYPE)) return null;
  let parsed;
  try {
    parsed = LogEntrySchema.safeParse(JSON.parse(text));
  } catch {
    return null; // not JSON: not an entry the enclave hashed, so the audit's root check refuses it
  }
  if (!parsed.success || parsed.data.type !== 'cluster.manifest_changed') return null;
  const e = parsed.data;
  return `entry ${index}: ${e.type} (cluster ${e.subject}, manifest ${e.digests?.payload ?? 'none'})`;
}

export class LogMonitor {
  constructor(
    private readonly client: LogClient,
    /** The last checkpoint this monitor accepted (persist it between runs). */
    public last: VerifiedCheckpoint | null = null,
    /** The served entries re-hashed so far (persist it with `last`; else all are re-read). */
    public audited: EntryAudit | null = null,
  ) {}

  /** Where to resume re-hashing: the audit at `last`, if it is one (else from leaf 0). */
  private auditStart(): EntryAudit | undefined {
    const a = this.audited;
    if (!a || !this.last || a.size !== this.last.size) return undefined;
    try {
      const range = CompactRange.fromState(a.size, a.frontier.map(base64ToBytes));
      return bytesToBase64(range.root()) === this.last.rootHash ? a : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Null, or why the log's other view (`LogClient.otherCheckpoint`) and `next` are not one
   * history: the log key signed both, so one of them is a fork shown to some of its readers.
   */
  private async splitView(next: VerifiedCheckpoint): Promise<string | null> {
    const other = await this.client.otherCheckpoint();
    if (!other) return null;
    const [older, newer] =
      other.checkpoint.size <= next.size ? [other.checkpoint, next] : [next, other.checkpoint];
    if (await this.client.consistent(older, newer)) return null;
    const [cosigned, newest] = other.cosigned ? [other.checkpoint, next] : [next, other.checkpoint];
    return `split view: the newest cosigned checkpoint (size ${cosigned.size}) and the newest checkpoint (size ${newest.size}) are not one history (both signed by the log key: a fork shown to the witnesses or to everyone else)`;
  }

  async poll(): Promise<MonitorReport> {
    const alarm = (message: string): MonitorReport => ({
      checkpoint: this.last,
      alarm: message,
      notices: [],
    });
    let next: VerifiedCheckpoint;
    try {
      next = await this.client.checkpoint();
    } catch (err) {
      // Network trouble is not evidence of misbehaviour, nor is a checkpoint the log key signed
      // that has fewer cosignatures than the policy asks (a witness missed a round): thrown, and
      // looked at again, as when nothing is cosigned yet (404).
      if (
        err instanceof ClientError &&
        err.code === 'LOG_INVALID' &&
        !(err.reasons.length > 0 && err.reasons.every((r) => r.endsWith(WITNESS_SHORTFALL)))
      )
        return alarm(err.message);
      throw err;
    }
    const last = this.last;
    if (last) {
      // The origin names the log key, which never changes for a log: a checkpoint under another
      // key (a fresh keyring, attested as genuinely as the old one) starts another history. Its
      // consistency cannot be judged against this one (from the empty tree it always "extends").
      if (next.origin !== last.origin) {
        return alarm(
          `log key changed: checkpoint of ${next.origin}, the last one seen (size ${last.size}) of ${last.origin} (another keyring's log: the history seen so far is not in it)`,
        );
      }
      if (next.size < last.size) {
        return alarm(`log shrank from ${last.size} to ${next.size} (rollback)`);
      }
      if (!(await this.client.consistent(last, next))) {
        return alarm(
          `checkpoint ${next.size} is not consistent with ${last.size} (fork or rewrite)`,
        );
      }
    }
    // Two views, one history: a host that shows the witnesses (and the clients that require
    // their cosignatures) one fork and everyone else another has the one log key sign both.
    let split: string | null;
    try {
      split = await this.splitView(next);
    } catch (err) {
      if (err instanceof ClientError && err.code === 'LOG_INVALID') return alarm(err.message);
      throw err;
    }
    if (split) return alarm(split);
    let audited: EntryAudit;
    const notices: string[] = [];
    try {
      audited = await this.client.auditEntries(next, this.auditStart(), (index, text) => {
        const notice = noticeOf(index, text);
        if (notice) notices.push(notice);
      });
    } catch (err) {
      if (err instanceof ClientError && err.code === 'LOG_INVALID') return alarm(err.message);
      throw err;
    }
    this.last = next;
    this.audited = audited;
    return { checkpoint: next, alarm: null, notices };
  }
}
