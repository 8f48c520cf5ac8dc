/**
 * Transparency-log appends through the service: many concurrent operations, each one
 * `log.commit()` producing one entry, for a fixed time. The log service queues them for at
 * most LOG_BATCH_INTERVAL_MS (or LOG_BATCH_MAX), runs the batch in one database transaction,
 * has the enclave check and hash the entries (`log.prepare`, before the head lock), then makes
 * one `log.append { prepared }` call under the lock that extends the tree and signs one
 * checkpoint, stores leaves and checkpoint with one statement, and releases every caller.
 *
 * The operations' own work is empty (no table of their own), so what is measured is the log's
 * cost per entry. Ceilings, same run: raw leaf hashes/s (SHA-256 over 0x00 ‖ the entry's JCS
 * bytes, the size these entries have) and raw node hashes/s (SHA-256 over 0x01 ‖ 64 bytes) on
 * one core; Ed25519 signatures/s (one per checkpoint) for context. And the part a batch runs
 * under the log head lock, measured alone: the database writing the same leaves with one
 * checkpoint per transaction, one transaction at a time (lib/write-ceiling.ts), and the
 * enclave's prepared append of a batch in this process; the two in sequence bound the service,
 * as the head lock makes them run one after the other. The enclave's prepare of a batch
 * (outside the lock) is measured and shown next to it.
 */
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { EnclaveLog } from '../src/enclave/log/enclave-log.js';
import { base64urlToBytes, bytesToBase64, bytesToHex, utf8 } from '../src/protocol/encoding.js';
import { logEntryBytes, type LogEntry } from '../src/protocol/log/entry.js';
import { leafHash, nodeHash } from '../src/protocol/log/merkle.js';
import { METHODS } from '../src/protocol/rpc/methods.js';
import {
  fmt,
  fmtRatio,
  measureConcurrent,
  measureSync,
  percentile,
  pick,
  printTable,
} from './lib/measure.js';
import { startLogProfile, type BatchPhases, type CpuPerEntry } from './lib/log-profile.js';
import { LOG_BATCH, useService, type BenchService } from './lib/service.js';
import { logWriteCeiling } from './lib/write-ceiling.js';

export interface LogAppendResult {
  name: 'log-append';
  engine: string;
  concurrency: number;
  batchIntervalMs: number;
  batchMax: number;
  seconds: number;
  entries: number;
  entriesPerSec: number;
  checkpoints: number;
  meanBatch: number;
  maxBatch: number;
  commitP50Ms: number;
  commitP99Ms: number;
  leafHashPerSec: number;
  nodeHashPerSec: number;
  ed25519SignPerSec: number;
  ratioToLeafHash: number;
  ratioToNodeHash: number;
  /** The database alone: leaves + checkpoint per transaction, one at a time (leaves/s). */
  dbLeavesPerSec: number;
  /** The enclave's prepared append alone (under the lock), one core: tree, one signature. */
  enclaveAppendPerSec: number;
  /** The enclave's prepare alone (before the lock), one core: params check, leaf hashes. */
  enclavePreparePerSec: number;
  /** Both in sequence, as the head lock runs them: 1 / (1/db + 1/enclave). */
  serialCeilingPerSec: number;
  ratioToSerialCeiling: number;
  /** CPU time per entry of the host, the enclave and PostgreSQL, and cores ÷ their sum. */
  cpu: CpuPerEntry;
  /** The batch transactions' phases and the head lock's share of the run. */
  phases: BatchPhases;
  failures: number;
  treeMatchesCheckpoint: boolean;
}

/** A batch's leaf rows as the log service stores them (ceiling of the database alone). */
function leafRows(first: number, n: number) {
  return Array.from({ length: n }, (_, i) => {
    const e = entry();
    const bytes = logEntryBytes(e);
    return {
      index: first + i,
      entry: utf8.decode(bytes),
      leafHash: bytesToHex(leafHash(bytes)),
      subject: e.subject,
      eventType: e.type,
    };
  });
}

/**
 * The enclave's work for a batch of `batch` entries, in this process on one core, in its two
 * parts (entries/s of each): `log.prepare` before the head lock (the params check the
 * dispatcher runs, the leaf hashes, the result's base64 leaf hashes) and `log.append {
 * prepared }` under it (its params check, the tree and the checkpoint's signature).
 */
async function enclaveAppendCeiling(
  batch: number,
  budgetMs: number,
): Promise<{ prepare: number; append: number }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = base64urlToBytes(publicKey.export({ format: 'jwk' }).x!);
  const log = await EnclaveLog.open(privateKey, raw, { checkpoint: null, frontier: [] });
  const params = { entries: Array.from({ length: batch }, entry) };
  const prepareSchema = METHODS['log.prepare'].params;
  const appendSchema = METHODS['log.append'].params;
  let done = 0;
  let prepareMs = 0;
  let appendMs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < budgetMs) {
    const p0 = performance.now();
    const prep = log.prepare(prepareSchema.parse(params).entries);
    if (prep.leafHashes.map(bytesToBase64).length !== batch) throw new Error('prepare');
    const a0 = performance.now();
    const id = appendSchema.parse({ prepared: prep.id }).prepared!;
    await log.appendHashes(log.takePrepared(id));
    const a1 = performance.now();
    prepareMs += a0 - p0;
    appendMs += a1 - a0;
    done += batch;
  }
  return { prepare: done / (prepareMs / 1000), append: done / (appendMs / 1000) };
}

/** Distinct entries the callers cycle through. */
const ENTRY_POOL = 4096;

function entry(): LogEntry {
  return {
    v: 1,
    type: 'credential.submitted',
    subject: randomUUID(),
    time: Math.floor(Date.now() / 1000),
    digests: { envelope: randomBytes(32).toString('hex') },
  };
}

export async function runLogAppend(shared?: BenchService): Promise<LogAppendResult> {
  const budgetMs = pick(10_000, 2_000);
  // Twice as many operations in flight as a batch takes: while one batch stores and commits, the
  // next is already queued and is built meanwhile (with exactly one batch's worth of callers,
  // every batch waits for the previous one's callers to come back and nothing overlaps).
  const concurrency = Number(process.env.BENCH_LOG_CONCURRENCY ?? pick(2 * LOG_BATCH.max, 256));

  // Ceilings, measured before and after the service run (the better one counts; the two
  // show how steady the machine was). The service is idle during both.
  const sample = logEntryBytes(entry());
  const a = randomBytes(32);
  const b = randomBytes(32);
  const { privateKey } = generateKeyPairSync('ed25519');
  const note = Buffer.from(`cloister.example/log\n123456\n${bytesToBase64(a)}\n`);
  let sink = 0;
  const ceilings = () => ({
    leaf: measureSync(() => (sink ^= leafHash(sample)[0]!), {
      budgetMs: pick(800, 250),
      chunk: 1000,
    }).opsPerSec,
    node: measureSync(() => (sink ^= nodeHash(a, b)[0]!), {
      budgetMs: pick(800, 250),
      chunk: 1000,
    }).opsPerSec,
    ed: measureSync(() => (sink ^= sign(null, note, privateKey)[0]!), {
      budgetMs: pick(400, 150),
      chunk: 50,
    }).opsPerSec,
  });

  const cfgInterval = LOG_BATCH.intervalMs;
  const cfgMax = LOG_BATCH.max;

  const dbOpts = { seconds: pick(2, 1), batch: cfgMax };
  const enclaveMs = pick(1500, 500);

  return useService(shared, async (s) => {
    const c1 = ceilings();
    const d1 = await logWriteCeiling(s, dbOpts, leafRows);
    const e1 = await enclaveAppendCeiling(cfgMax, enclaveMs);
    const log = s.service.log;
    // The callers' entries, made before the clock: what is measured is the log, not the bench
    // making entries (cycled through; the log takes the same entry twice like any other).
    const pool = Array.from({ length: ENTRY_POOL }, entry);
    let next = 0;
    let failures = 0;
    let measuring = false;
    let entries = 0;
    const commit = async () => {
      try {
        const logged = await log.commit({
          work: async () => ({ result: undefined, entries: [pool[next++ % ENTRY_POOL]!] }),
        });
        if (measuring) entries += logged.indexes.length;
        return 1;
      } catch {
        failures++;
        return 0;
      }
    };
    // Warm-up (not counted; every commit of it has settled before the measured phase starts).
    const warmupMs = pick(1000, 300);
    const warmEnd = performance.now() + warmupMs;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < warmEnd) await commit();
      }),
    );
    const before = log.latest()!.size;
    const profile = await startLogProfile(s);
    measuring = true;
    const r = await measureConcurrent(commit, { workers: concurrency, budgetMs, warmupMs: 0 });
    measuring = false;
    await log.drain();
    const { cpu, phases } = await profile.stop(entries);
    const after = log.latest()!;
    const tree = log.tree();
    const treeMatchesCheckpoint =
      tree.size === after.size && bytesToBase64(tree.root()) === after.rootHash;
    const { rows } = await s.service.db.query<{ tree_size: string }>(
      'SELECT tree_size FROM log_checkpoints WHERE tree_size >= $1 ORDER BY tree_size',
      [before],
    );
    const sizes = rows.map((row) => Number(row.tree_size));
    const checkpoints = sizes.length - 1;
    const maxBatch = Math.max(0, ...sizes.slice(1).map((n, k) => n - sizes[k]!));

    const c2 = ceilings();
    const d2 = await logWriteCeiling(s, dbOpts, leafRows);
    const e2 = await enclaveAppendCeiling(cfgMax, enclaveMs);
    const dbLeaves = Math.max(d1.perSec, d2.perSec);
    const enclaveAppend = Math.max(e1.append, e2.append);
    const enclavePrepare = Math.max(e1.prepare, e2.prepare);
    const serial = 1 / (1 / dbLeaves + 1 / enclaveAppend);
    const leaf = { opsPerSec: Math.max(c1.leaf, c2.leaf) };
    const node = { opsPerSec: Math.max(c1.node, c2.node) };
    const ed = { opsPerSec: Math.max(c1.ed, c2.ed) };
    const result: LogAppendResult = {
      name: 'log-append',
      engine: s.engine,
      concurrency,
      batchIntervalMs: cfgInterval,
      batchMax: cfgMax,
      seconds: r.seconds,
      entries,
      entriesPerSec: entries / r.seconds,
      checkpoints,
      meanBatch: entries / Math.max(1, checkpoints),
      maxBatch,
      commitP50Ms: percentile(r.latenciesUs, 50) / 1000,
      commitP99Ms: percentile(r.latenciesUs, 99) / 1000,
      leafHashPerSec: leaf.opsPerSec,
      nodeHashPerSec: node.opsPerSec,
      ed25519SignPerSec: ed.opsPerSec,
      ratioToLeafHash: entries / r.seconds / leaf.opsPerSec,
      ratioToNodeHash: entries / r.seconds / node.opsPerSec,
      dbLeavesPerSec: dbLeaves,
      enclaveAppendPerSec: enclaveAppend,
      enclavePreparePerSec: enclavePrepare,
      serialCeilingPerSec: serial,
      ratioToSerialCeiling: entries / r.seconds / serial,
      cpu,
      phases,
      failures,
      treeMatchesCheckpoint,
    };
    printTable(
      `log-append: log.commit() with one entry each, ${concurrency} concurrent, ${fmt(r.seconds)} s (${s.engine}, ` +
        `LOG_BATCH_MAX ${cfgMax}, LOG_BATCH_INTERVAL_MS ${cfgInterval})`,
      [
        {
          'entries/s': result.entriesPerSec,
          entries,
          checkpoints,
          'mean batch': result.meanBatch,
          'max batch': maxBatch,
          'commit p50 ms': result.commitP50Ms,
          'commit p99 ms': result.commitP99Ms,
          failures,
        },
      ],
    );
    printTable(
      `log-append: ceilings (one core, this run; best of before/after: leaf ${fmt(c1.leaf)}/${fmt(c2.leaf)},` +
        ` node ${fmt(c1.node)}/${fmt(c2.node)}, ed25519 ${fmt(c1.ed)}/${fmt(c2.ed)})`,
      [
        {
          'leaf hash/s': leaf.opsPerSec,
          'node hash/s': node.opsPerSec,
          'ed25519 sign/s': ed.opsPerSec,
          'entries/leaf hash': fmtRatio(result.ratioToLeafHash),
          'entries/node hash': fmtRatio(result.ratioToNodeHash),
        },
      ],
    );
    printTable(
      `log-append: the head-locked part alone (this run; best of before/after: database ` +
        `${fmt(d1.perSec)}/${fmt(d2.perSec)}, enclave append ${fmt(e1.append)}/${fmt(e2.append)},` +
        ` prepare ${fmt(e1.prepare)}/${fmt(e2.prepare)}; database: ${d1.kind})`,
      [
        {
          'database leaves/s': dbLeaves,
          'enclave append (locked) entries/s': enclaveAppend,
          'both in sequence/s': serial,
          'entries/sequence': fmtRatio(result.ratioToSerialCeiling),
          'enclave prepare (not locked) entries/s': enclavePrepare,
        },
      ],
    );
    const us = (v: number | null) => (v === null ? '—' : fmt(v));
    printTable(
      `log-append: CPU per entry during the run (${cpu.cores} cores; host = this process with the` +
        ` callers${s.engine === 'pglite' ? ' and PGlite' : ''})`,
      [
        {
          'host µs': us(cpu.hostUs),
          'enclave µs': us(cpu.enclaveUs),
          'postgres µs': us(cpu.postgresUs),
          'total µs': us(cpu.totalUs),
          'cores / total (entries/s)': cpu.ceilingPerSec,
          'entries/CPU ceiling': fmtRatio(result.entriesPerSec / cpu.ceilingPerSec),
        },
      ],
    );
    printTable(
      `log-append: a batch transaction's phases (means over ${phases.batches} batches, ms; the` +
        ' head lock is held from the lock to the end of COMMIT)',
      [
        {
          'BEGIN to lock held': phases.beginToLockMs,
          'of it log.prepare': phases.prepareMs,
          'lock held': phases.lockedMs,
          'of it log.append': phases.enclaveMs,
          'leaves + checkpoint': phases.storeMs,
          COMMIT: phases.commitMs,
          'lock busy': fmtRatio(phases.lockBusy),
        },
      ],
    );
    if (sink === 256) console.log('');
    if (failures > 0) console.warn(`  ! ${failures} commit(s) failed: the figures are not valid`);
    if (!treeMatchesCheckpoint)
      console.warn('  ! the in-memory tree does not match the checkpoint');
    if (after.size !== before + entries)
      console.warn(`  ! log grew by ${after.size - before}, but ${entries} entries were counted`);
    return result;
  });
}
