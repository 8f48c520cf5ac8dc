/**
 * `LogClient.auditEntries` and `LogMonitor` re-hash the entry text `/api/log/entries` serves
 * (issue 12 item 6): a host that rewrote an entry in its database but kept its leaf hash still
 * serves valid checkpoints and proofs, so only the re-hashed text gives it away. Against an
 * in-memory log server (real Ed25519 checkpoint signatures, real RFC 9162 tree).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { LogClient, LogMonitor } from '../../src/client/index.js';
import { bytesToBase64, utf8 } from '../../src/protocol/encoding.js';
import {
  cosignatureMessage,
  encodeCosignature,
  formatCheckpoint,
} from '../../src/protocol/log/checkpoint.js';
import { sessionLogSubject } from '../../src/protocol/log/entry.js';
import { leafHash, MerkleTree } from '../../src/protocol/log/merkle.js';
import {
  COSIGNATURE_SIG_TYPE,
  noteKeyId,
  parseNote,
  signNote,
  signatureLine,
} from '../../src/protocol/log/note.js';
import { logOrigin } from '../../src/protocol/log/origin.js';

const seed = new Uint8Array(32).fill(7);
const publicKey = ed25519.getPublicKey(seed);

/**
 * A log whose served entry text can be altered while its tree (from the true hashes) is kept;
 * signed with the key of `keySeed` (another seed: another keyring's log).
 */
function fakeLog(keySeed = seed) {
  const publicKey = ed25519.getPublicKey(keySeed);
  const origin = logOrigin(publicKey);
  const texts: string[] = [];
  const served = new Map<number, string>();
  const tree = new MerkleTree();
  let note = '';
  const log = {
    async append(n: number, subject?: string) {
      await log.appendTexts(
        Array.from(
          { length: n },
          (_, i) =>
            `{"subject":"${subject ?? `s${texts.length + i}`}","time":1,"type":"credential.expired","v":1}`,
        ),
      );
    },
    /** Appends these exact entry texts and signs the new checkpoint (none: the current one). */
    async appendTexts(add: readonly string[]) {
      for (const text of add) {
        texts.push(text);
        tree.append(leafHash(utf8.encode(text)));
      }
      const text = formatCheckpoint({ origin, size: tree.size, rootHash: tree.root() });
      note = await signNote(text, [
        { name: origin, publicKey, sign: (m) => ed25519.sign(m, keySeed) },
      ]);
    },
    alter(index: number, text: string) {
      served.set(index, text);
    },
    requests: [] as string[],
    fetch: async (url: string) => {
      const u = new URL(url);
      log.requests.push(u.pathname + u.search);
      const json = (body: unknown) => ({ ok: true, status: 200, json: async () => body });
      if (u.pathname === '/api/log/checkpoint') {
        if (u.searchParams.get('witnessed') !== 'true') return json({ checkpoint: note });
        if (log.witnessed === null) return { ok: false, status: 404, json: async () => ({}) };
        return json({ checkpoint: log.witnessed });
      }
      if (u.pathname === '/api/log/entries') {
        const start = Number(u.searchParams.get('start'));
        const end = Number(u.searchParams.get('end'));
        const entries = [];
        for (let i = start; i < end; i++) {
          entries.push({
            index: i,
            entry: served.get(i) ?? texts[i]!,
            // The host serves the stored (true) hash with the altered text.
            leaf_hash: bytesToBase64(tree.leafHash(i)),
          });
        }
        return json({ start, end, entries });
      }
      if (u.pathname === '/api/log/proof/consistency') {
        const from = Number(u.searchParams.get('from'));
        const to = Number(u.searchParams.get('to'));
        if (to > tree.size) return { ok: false, status: 400, json: async () => ({}) };
        return json({ proof: tree.consistencyProof(from, to).map(bytesToBase64) });
      }
      if (u.pathname.startsWith('/api/logs/')) {
        // A session's entries with inclusion proofs, as the host chooses to list them.
        const subject = sessionLogSubject(decodeURIComponent(u.pathname.slice(10)));
        const size = tree.size;
        const listed = texts
          .map((entry, index) => ({ index, entry }))
          .filter((e) => e.entry.includes(`"subject":"${subject}"`) && !log.hide.has(e.index))
          .map((e) => ({ ...e, proof: tree.inclusionProof(e.index, size).map(bytesToBase64) }));
        const entries = log.twice ? [...listed, listed[0]!] : listed;
        return json({ checkpoint: { checkpoint: note }, entries });
      }
      return { ok: false, status: 404, json: async () => ({}) };
    },
    /** The signed note of the current checkpoint. */
    note: () => note,
    /** What `?witnessed=true` serves (null: 404, nothing cosigned). */
    witnessed: null as string | null,
    /** Session entries the host leaves out of `/api/logs/:id`; and whether it lists one twice. */
    hide: new Set<number>(),
    twice: false,
  };
  return log;
}

const trust = { logPublicKey: bytesToBase64(publicKey) };

describe('re-hashing served entries', () => {
  it('auditEntries accepts an untouched log over several pages and names an altered entry', async () => {
    const log = fakeLog();
    await log.append(2500);
    const client = new LogClient('http://log.test', trust, log.fetch);
    const cp = await client.checkpoint();
    const audit = await client.auditEntries(cp);
    assert.equal(audit.size, 2500);
    assert.equal(log.requests.filter((r) => r.startsWith('/api/log/entries')).length, 3);

    log.alter(1234, '{"subject":"s1234","time":1,"type":"session.revoked","v":1}');
    await assert.rejects(client.auditEntries(cp), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'LOG_INVALID');
      assert.match(err.message, /entry text altered \(entry 1234 /);
      return true;
    });
  });

  it('auditEntries refuses a page with a missing or misnumbered entry', async () => {
    const log = fakeLog();
    await log.append(5);
    const short = async (url: string) => {
      const res = await log.fetch(url);
      if (!url.includes('/api/log/entries')) return res;
      const body = (await res.json()) as { entries: unknown[] };
      return { ...res, json: async () => ({ ...body, entries: body.entries.slice(1) }) };
    };
    const client = new LogClient('http://log.test', trust, short);
    await assert.rejects(client.auditEntries(await client.checkpoint()), { code: 'LOG_INVALID' });
  });

  it('a monitor raises the alarm on an altered entry, even with a valid checkpoint', async () => {
    const log = fakeLog();
    await log.append(10);
    log.alter(3, '{"subject":"s3","time":2,"type":"credential.expired","v":1}');
    const report = await new LogMonitor(new LogClient('http://log.test', trust, log.fetch)).poll();
    assert.match(report.alarm ?? '', /entry text altered/);
    assert.equal(report.checkpoint, null, 'the bad checkpoint is not accepted');
  });

  it('a monitor re-hashes only the new entries on later polls, and catches one altered among them', async () => {
    const log = fakeLog();
    await log.append(10);
    const monitor = new LogMonitor(new LogClient('http://log.test', trust, log.fetch));
    assert.equal((await monitor.poll()).alarm, null);
    assert.equal(monitor.audited?.size, 10);
    await log.append(5);
    log.requests.length = 0;
    assert.equal((await monitor.poll()).alarm, null);
    assert.ok(log.requests.includes('/api/log/entries?start=10&end=15'), log.requests.join(' '));
    await log.append(5);
    log.alter(17, '{"subject":"x","time":1,"type":"credential.expired","v":1}');
    const report = await monitor.poll();
    assert.match(report.alarm ?? '', /entry text altered \(entry 17 /);
    assert.equal(monitor.last?.size, 15, 'the monitor keeps its last good checkpoint');
  });

  it('a monitor whose saved audit does not match its checkpoint re-hashes from leaf 0', async () => {
    const log = fakeLog();
    await log.append(4);
    const first = new LogMonitor(new LogClient('http://log.test', trust, log.fetch));
    await first.poll();
    log.alter(0, '{"subject":"y","time":1,"type":"credential.expired","v":1}');
    // A forged audit state (its frontier is not the checkpoint's) must not skip leaf 0.
    const forged = { size: 4, frontier: [bytesToBase64(new Uint8Array(32))] };
    const report = await new LogMonitor(
      new LogClient('http://log.test', trust, log.fetch),
      first.last,
      forged,
    ).poll();
    assert.match(report.alarm ?? '', /entry text altered \(entry 0 /);
  });
});

describe("a session's entries: what the host leaves out or repeats", () => {
  const sid = '00000000-0000-4000-8000-000000000000';
  const setup = async () => {
    const log = fakeLog();
    await log.append(3);
    await log.append(1, sessionLogSubject(sid));
    await log.append(1200);
    await log.append(2, sessionLogSubject(sid));
    await log.append(4);
    return { log, client: new LogClient('http://log.test', trust, log.fetch) };
  };

  it('every entry of the session, proven: listed as logged, and with complete after a full re-hash', async () => {
    const { client } = await setup();
    const listed = await client.sessionEntries(sid);
    assert.deepEqual(
      listed.entries.map((e) => e.index),
      [3, 1204, 1205],
    );
    const complete = await client.sessionEntries(sid, { complete: true });
    assert.deepEqual(
      complete.entries.map((e) => e.index),
      [3, 1204, 1205],
    );
  });

  it('an entry listed twice is refused', async () => {
    const { log, client } = await setup();
    log.twice = true;
    await assert.rejects(client.sessionEntries(sid), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'LOG_INVALID');
      assert.match(err.message, /entry 3 is served twice or out of order/);
      return true;
    });
  });

  it('a logged entry left out of the listing: the proofs of the rest verify; complete names it', async () => {
    const { log, client } = await setup();
    log.hide.add(1204);
    // What is served is included: the listing alone cannot tell.
    assert.deepEqual(
      (await client.sessionEntries(sid)).entries.map((e) => e.index),
      [3, 1205],
    );
    await assert.rejects(
      client.sessionEntries(sid, { complete: true }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'LOG_INVALID');
        assert.match(err.message, /the log left out entry 1204 of this session/);
        return true;
      },
    );
  });
});

describe('log monitor: second attack review', () => {
  const otherSeed = new Uint8Array(32).fill(9);
  const otherTrust = { logPublicKey: bytesToBase64(ed25519.getPublicKey(otherSeed)) };

  it('a monitor whose last checkpoint is of another log key raises the alarm, even from the empty tree', async () => {
    // The monitor kept the empty tree of the attested log; the host then starts the enclave on a
    // fresh keyring (a new log key, attested as genuinely as the old one) with a new history.
    const old = fakeLog();
    await old.appendTexts([]);
    const first = new LogMonitor(new LogClient('http://log.test', trust, old.fetch));
    assert.equal((await first.poll()).alarm, null);
    assert.equal(first.last?.size, 0);
    const fresh = fakeLog(otherSeed);
    await fresh.append(3);
    // As `cloister log monitor --state` after a restart: the saved checkpoint, the new trust.
    const report = await new LogMonitor(
      new LogClient('http://log.test', otherTrust, fresh.fetch),
      first.last,
      first.audited,
    ).poll();
    assert.match(report.alarm ?? '', /log key changed: checkpoint of cloister\.log\/\w+, the last/);
    assert.equal(report.checkpoint, first.last, 'the monitor keeps its last good checkpoint');

    // Past the empty tree the alarm says the same (not "shrank" or "fork").
    await old.append(5);
    const later = new LogMonitor(new LogClient('http://log.test', trust, old.fetch));
    await later.poll();
    const again = await new LogMonitor(
      new LogClient('http://log.test', otherTrust, fresh.fetch),
      later.last,
    ).poll();
    assert.match(again.alarm ?? '', /log key changed/);
  });

  it('a monitor reports each new cluster.manifest_changed entry as a notice, not an alarm', async () => {
    const log = fakeLog();
    const manifest = (digest: string) =>
      `{"digests":{"payload":"${digest.repeat(64)}"},"subject":"c1","time":1,"type":"cluster.manifest_changed","v":1}`;
    await log.append(2);
    await log.appendTexts([manifest('a')]);
    const monitor = new LogMonitor(new LogClient('http://log.test', trust, log.fetch));
    const first = await monitor.poll();
    assert.equal(first.alarm, null);
    assert.deepEqual(first.notices, [
      `entry 2: cluster.manifest_changed (cluster c1, manifest ${'a'.repeat(64)})`,
    ]);
    await log.append(2);
    assert.deepEqual((await monitor.poll()).notices, [], 'an entry is reported once');
    await log.appendTexts([manifest('b')]);
    await log.append(1);
    assert.deepEqual((await monitor.poll()).notices, [
      `entry 5: cluster.manifest_changed (cluster c1, manifest ${'b'.repeat(64)})`,
    ]);
    // A poll that raises an alarm reports nothing else: its entries are not trusted.
    await log.appendTexts([manifest('c')]);
    log.alter(7, manifest('d'));
    const bad = await monitor.poll();
    assert.match(bad.alarm ?? '', /entry text altered/);
    assert.deepEqual(bad.notices, []);
  });

  it('a monitor compares the newest cosigned checkpoint with the newest one: a fork shown to the witnesses is an alarm', async () => {
    // One log key, two histories: A served as the newest checkpoint, B as the cosigned one.
    const shown = fakeLog();
    await shown.append(6);
    const toWitnesses = fakeLog();
    await toWitnesses.append(4, 'other');
    shown.witnessed = toWitnesses.note();
    const monitor = new LogMonitor(new LogClient('http://log.test', trust, shown.fetch));
    const report = await monitor.poll();
    assert.match(
      report.alarm ?? '',
      /split view: the newest cosigned checkpoint \(size 4\) and the newest checkpoint \(size 6\) are not one history/,
    );
    assert.equal(monitor.last, null, 'nothing accepted');

    // One history: the cosigned checkpoint is an older one of the same log. None: nothing to compare.
    const honest = fakeLog();
    await honest.append(4);
    honest.witnessed = honest.note();
    await honest.append(3);
    const ok = new LogMonitor(new LogClient('http://log.test', trust, honest.fetch));
    assert.equal((await ok.poll()).alarm, null);
    honest.witnessed = null;
    await honest.append(1);
    assert.equal((await ok.poll()).alarm, null);
    assert.equal(ok.last?.size, 8);
  });

  it('a monitor with a witness policy checks the newest checkpoint, not cosigned yet, against the cosigned one', async () => {
    const witnessSeed = new Uint8Array(32).fill(3);
    const witness = { name: 'witness.test/w', publicKey: ed25519.getPublicKey(witnessSeed) };
    const cosign = (note: string) => {
      const text = parseNote(note).text;
      const sig = ed25519.sign(cosignatureMessage(text, 1_800_000_000), witnessSeed);
      const keyId = noteKeyId(witness.name, COSIGNATURE_SIG_TYPE, witness.publicKey);
      return note + signatureLine(witness.name, keyId, encodeCosignature(1_800_000_000, sig));
    };
    const policy = {
      ...trust,
      witnesses: [{ name: witness.name, publicKey: bytesToBase64(witness.publicKey) }],
      witnessThreshold: 1,
    };
    // Witnesses (and clients with this policy) are shown B; everyone else the newer fork A.
    // The host serves B's entries and proofs too: only the newest checkpoint is A's.
    const forWitnesses = fakeLog();
    await forWitnesses.append(5, 'b');
    forWitnesses.witnessed = cosign(forWitnesses.note());
    const shown = fakeLog();
    await shown.append(7, 'a');
    const split = async (url: string) =>
      url.endsWith('/api/log/checkpoint') ? shown.fetch(url) : forWitnesses.fetch(url);
    const report = await new LogMonitor(new LogClient('http://log.test', policy, split)).poll();
    assert.match(
      report.alarm ?? '',
      /split view: the newest cosigned checkpoint \(size 5\) and the newest checkpoint \(size 7\) are not one history/,
    );
    // One history: fine.
    const honest = fakeLog();
    await honest.append(5);
    honest.witnessed = cosign(honest.note());
    await honest.append(2);
    assert.equal(
      (await new LogMonitor(new LogClient('http://log.test', policy, honest.fetch)).poll()).alarm,
      null,
    );
  });

  it('a witness that missed a round is not an alarm: the monitor waits; a bad log signature still is', async () => {
    const seeds = [new Uint8Array(32).fill(4), new Uint8Array(32).fill(5)];
    const witnesses = seeds.map((seed, i) => ({
      name: `witness.test/w${i}`,
      publicKey: ed25519.getPublicKey(seed),
    }));
    const cosign = (note: string, by: number[]) =>
      note +
      by
        .map((i) => {
          const w = witnesses[i]!;
          const sig = ed25519.sign(cosignatureMessage(parseNote(note).text, 1), seeds[i]!);
          const keyId = noteKeyId(w.name, COSIGNATURE_SIG_TYPE, w.publicKey);
          return signatureLine(w.name, keyId, encodeCosignature(1, sig));
        })
        .join('');
    const policy = {
      ...trust,
      witnesses: witnesses.map((w) => ({ name: w.name, publicKey: bytesToBase64(w.publicKey) })),
      witnessThreshold: 2,
    };
    const log = fakeLog();
    await log.append(3);
    log.witnessed = cosign(log.note(), [0, 1]);
    const monitor = new LogMonitor(new LogClient('http://log.test', policy, log.fetch));
    assert.equal((await monitor.poll()).alarm, null);
    // The next round: witness 1 did not answer, so the newest cosigned checkpoint has one.
    await log.append(2);
    log.witnessed = cosign(log.note(), [0]);
    await assert.rejects(monitor.poll(), (err: Error & { code?: string }) => {
      assert.match(err.message, /1 of 2 required witness cosignatures/);
      return true;
    });
    assert.equal(monitor.last?.size, 3, 'nothing accepted, nothing alarmed');
    log.witnessed = cosign(log.note(), [0, 1]);
    assert.equal((await monitor.poll()).alarm, null);
    assert.equal(monitor.last?.size, 5);
    // Cosigned as required, but not by the log key: an alarm.
    const other = fakeLog(new Uint8Array(32).fill(6));
    await other.append(6);
    log.witnessed = cosign(other.note(), [0, 1]);
    assert.match((await monitor.poll()).alarm ?? '', /no valid signature by the log key/);
  });
});
