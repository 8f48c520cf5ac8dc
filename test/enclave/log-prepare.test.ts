/**
 * The two-step log append (issue 17): `log.prepare` checks and hashes entries and keeps the leaf
 * hashes under a single-use id; `log.append { prepared }` appends them and signs. Through the
 * real dispatcher on in-process enclaves, as the host's RPC client calls them. What a host that
 * controls the enclave's input can do with it (replay an id, prepare and never append, flood
 * prepares, hand over another writer's head in between) gains it nothing a plain append does
 * not, and the enclave's memory stays bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { base64ToBytes, bytesToBase64 } from '../../src/protocol/encoding.js';
import { parseCheckpoint, verifyCheckpointNote } from '../../src/protocol/log/checkpoint.js';
import { logEntryLeafHash, sessionLogSubject } from '../../src/protocol/log/entry.js';
import { CompactRange } from '../../src/protocol/log/merkle.js';
import { parseNote } from '../../src/protocol/log/note.js';
import { logOrigin } from '../../src/protocol/log/origin.js';
import { LOG_APPEND_MAX_ENTRIES, LOG_PREPARED_MAX } from '../../src/protocol/rpc/methods.js';
import { testEnclave, type TestEnclave } from '../helpers/enclave-state.js';
import { code, ok } from '../mutation-killers/rpc.js';

const entry = () => ({
  v: 1 as const,
  type: 'credential.expired' as const,
  subject: sessionLogSubject(randomUUID()),
  time: 1_800_000_000,
});

/** Two enclaves with one log key (two writers of one log), both with the log started. */
async function twoWriters(): Promise<{ a: TestEnclave; b: TestEnclave; publicKey: Uint8Array }> {
  const a = testEnclave();
  const g = await ok(a, 'keyring.generate', { policy: 'signer' });
  const b = testEnclave({ dir: a.dir });
  await ok(b, 'keyring.unseal', { sealed: g.sealed });
  await ok(a, 'log.init', { checkpoint: null, frontier: [] });
  await ok(b, 'log.init', { checkpoint: null, frontier: [] });
  const publicKey = a.state.keyrings.credential.active!.logPublicKey();
  return { a, b, publicKey };
}

const rootOf = (note: string) => bytesToBase64(parseCheckpoint(parseNote(note).text).rootHash);

describe('log.prepare and log.append { prepared }', () => {
  it('returns the leaf hashes; the prepared append signs what a plain append of the entries signs', async () => {
    const { a, b, publicKey } = await twoWriters();
    const entries = [entry(), entry(), entry()];
    const prep = await ok(a, 'log.prepare', { entries });
    assert.match(prep.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      prep.leaf_hashes,
      entries.map((e) => bytesToBase64(logEntryLeafHash(e))),
    );
    // Preparing changes nothing that is signed.
    assert.equal(a.state.log!.size, 0);
    const res = await ok(a, 'log.append', { prepared: prep.id });
    assert.equal(res.first_index, 0);
    assert.equal(res.size, 3);
    assert.equal(res.leaf_hashes, undefined, 'a prepared answer carries no leaf hashes');
    const range = CompactRange.empty();
    for (const h of prep.leaf_hashes) range.append(base64ToBytes(h));
    assert.equal(rootOf(res.checkpoint), bytesToBase64(range.root()));
    const v = verifyCheckpointNote(res.checkpoint, { name: logOrigin(publicKey), publicKey });
    assert.ok(v.valid, v.reasons.join('; '));
    // The same log key appending the same entries in one call: the same note (Ed25519 is
    // deterministic), and the leaf hashes of the one-call form.
    const plain = await ok(b, 'log.append', { entries });
    assert.equal(plain.checkpoint, res.checkpoint);
    assert.deepEqual(plain.leaf_hashes, prep.leaf_hashes);
  });

  it('an id is used once: a replay, an unknown id, an id used by a refused append are LOG_PREPARED_UNKNOWN and change nothing', async () => {
    const { a } = await twoWriters();
    const prep = await ok(a, 'log.prepare', { entries: [entry()] });
    const first = await ok(a, 'log.append', { prepared: prep.id });
    assert.equal(await code(a, 'log.append', { prepared: prep.id }), 'LOG_PREPARED_UNKNOWN');
    const unknown = randomBytes(16).toString('hex');
    assert.equal(await code(a, 'log.append', { prepared: unknown }), 'LOG_PREPARED_UNKNOWN');
    assert.equal(a.state.log!.size, 1);
    assert.equal(a.state.log!.checkpoint(), first.checkpoint);

    // A head that is no checkpoint of this log: refused, and the id is gone with it.
    const again = await ok(a, 'log.prepare', { entries: [entry()] });
    const forged = {
      checkpoint: first.checkpoint.replace(/\n1\n/, '\n7\n'),
      frontier: [],
      proof: [],
    };
    assert.equal(
      await code(a, 'log.append', { prepared: again.id, head: forged }),
      'LOG_STATE_INVALID',
    );
    assert.equal(await code(a, 'log.append', { prepared: again.id }), 'LOG_PREPARED_UNKNOWN');
    assert.equal(a.state.log!.size, 1);
    assert.equal(a.state.log!.checkpoint(), first.checkpoint);
  });

  it(`holds at most ${LOG_PREPARED_MAX} prepared appends: a flood evicts the oldest, memory stays bounded`, async () => {
    const { a } = await twoWriters();
    const ids: string[] = [];
    for (let i = 0; i < LOG_PREPARED_MAX + 3; i++) {
      ids.push((await ok(a, 'log.prepare', { entries: [entry(), entry()] })).id);
    }
    const held = (a.state.log as unknown as { prepared: Map<string, Uint8Array> }).prepared;
    assert.equal(held.size, LOG_PREPARED_MAX);
    for (const bytes of held.values()) assert.equal(bytes.byteLength, 2 * 32);
    for (const id of ids.slice(0, 3)) {
      assert.equal(await code(a, 'log.append', { prepared: id }), 'LOG_PREPARED_UNKNOWN');
    }
    // The newest ones append, in whatever order the host sends them (as plain appends would).
    const kept = ids.slice(3).reverse();
    for (const [i, id] of kept.entries()) {
      assert.equal((await ok(a, 'log.append', { prepared: id })).first_index, 2 * i);
    }
    assert.equal(held.size, 0, 'used ids are gone');

    // The largest prepare packs its hashes: LOG_APPEND_MAX_ENTRIES × 32 bytes.
    const many = Array.from({ length: LOG_APPEND_MAX_ENTRIES }, entry);
    await ok(a, 'log.prepare', { entries: many });
    assert.equal([...held.values()][0]!.byteLength, LOG_APPEND_MAX_ENTRIES * 32);
  });

  it('a prepare does not depend on the head: another writer may append in between', async () => {
    const { a, b } = await twoWriters();
    const prep = await ok(a, 'log.prepare', { entries: [entry()] });
    const byB = await ok(b, 'log.append', { entries: [entry(), entry()] });
    // B's head (size 2: its frontier is the one subtree root; A's empty tree needs no proof).
    const range = CompactRange.empty();
    for (const h of byB.leaf_hashes!) range.append(base64ToBytes(h));
    const head = {
      checkpoint: byB.checkpoint,
      frontier: range.hashes().map(bytesToBase64),
      proof: [],
    };
    const res = await ok(a, 'log.append', { prepared: prep.id, head });
    assert.equal(res.first_index, 2);
    assert.equal(res.size, 3);
    range.append(base64ToBytes(prep.leaf_hashes[0]!));
    assert.equal(rootOf(res.checkpoint), bytesToBase64(range.root()));
  });

  it('params: exactly one of entries and prepared; prepare takes what append takes; LOG_NOT_READY before log.init', async () => {
    const { a } = await twoWriters();
    const prep = await ok(a, 'log.prepare', { entries: [entry()] });
    const bad = [
      { entries: [entry()], prepared: prep.id },
      {},
      { prepared: prep.id.toUpperCase() },
      { prepared: prep.id.slice(2) },
    ];
    for (const params of bad) assert.equal(await code(a, 'log.append', params), 'PARAMS_INVALID');
    for (const entries of [[], Array.from({ length: LOG_APPEND_MAX_ENTRIES + 1 }, entry)]) {
      assert.equal(await code(a, 'log.prepare', { entries }), 'PARAMS_INVALID');
    }
    assert.equal(await code(a, 'log.prepare', { entries: [entry()], x: 1 }), 'PARAMS_INVALID');
    assert.equal(
      await code(a, 'log.prepare', { entries: [{ ...entry(), v: 2 }] }),
      'PARAMS_INVALID',
    );
    // The refused calls did not use the id up.
    assert.equal((await ok(a, 'log.append', { prepared: prep.id })).size, 1);

    const fresh = testEnclave();
    await ok(fresh, 'keyring.generate', { policy: 'signer' });
    assert.equal(await code(fresh, 'log.prepare', { entries: [entry()] }), 'LOG_NOT_READY');
    assert.equal(await code(fresh, 'log.append', { prepared: prep.id }), 'LOG_NOT_READY');
  });
});
