/**
 * Migration 021 rewrote five row checks of the submission path without regex repetition counts
 * (issue 17: PostgreSQL matches '^[0-9a-f]{64}$' slowly). Each must still accept exactly what
 * the original pattern accepted: every value below is inserted, and the database must refuse it
 * (check violation of that constraint) exactly when the original pattern does not match it.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openPostgres, type Db } from '../../src/host/db/database.js';
import { migrate } from '../../src/host/db/migrate.js';
import { createTestDatabase, engines, openTestPglite } from '../helpers/service.js';

const HEX64 = 'ab'.repeat(32);
const KEY = 'K'.repeat(43);

/** Values around each pattern's edges: lengths, case, newlines, neighbours of each class. */
function values(ok: string, alphabet: string): string[] {
  const out = new Set<string>([
    '',
    ok,
    ok.slice(1),
    ok + ok[0],
    ok.toUpperCase(),
    ok.toLowerCase(),
    `${ok.slice(1)}\n`,
    `\n${ok.slice(1)}`,
    `${ok.slice(0, -1)}\n`,
    `${ok.slice(0, 10)} ${ok.slice(11)}`,
    `${ok.slice(0, -1)}é`,
    'a',
    'A b.c-_',
    ' abc',
    '.abc',
    '-abc',
    'x'.repeat(64),
    'x'.repeat(65),
    '0'.repeat(64),
  ]);
  for (const c of `${alphabet}gG/+=.:;\\'"\t\0`.replace('\0', '')) {
    out.add(`${ok.slice(0, -1)}${c}`);
    out.add(`${c}${ok.slice(1)}`);
  }
  return [...out];
}

interface Case {
  constraint: string;
  /** The pattern the column's check had before migration 021. */
  pattern: string;
  ok: string;
  alphabet: string;
  insert(db: Db, v: string): Promise<unknown>;
}

let nextLeaf = 0;
const CASES: Case[] = [
  {
    constraint: 'merkle_logs_leaf_hash_check',
    pattern: '^[0-9a-f]{64}$',
    ok: HEX64,
    alphabet: '0123456789abcdefABCDEF',
    insert: (db, v) =>
      db.query(
        `INSERT INTO merkle_logs (leaf_index, subject, event_type, entry, leaf_hash)
         VALUES ($1, 's', 'a.b', '{}', $2)`,
        [nextLeaf++, v],
      ),
  },
  {
    constraint: 'merkle_logs_subject_check',
    pattern: '^[A-Za-z0-9_-]{0,64}$',
    ok: 'Az09_-'.repeat(10),
    alphabet: 'AZaz09_-',
    insert: (db, v) =>
      db.query(
        `INSERT INTO merkle_logs (leaf_index, subject, event_type, entry, leaf_hash)
         VALUES ($1, $2, 'a.b', '{}', $3)`,
        [nextLeaf++, v, HEX64],
      ),
  },
  {
    constraint: 'credentials_key_id_check',
    pattern: '^[A-Za-z0-9_-]{43}$',
    ok: KEY,
    alphabet: 'AZaz09_-',
    insert: (db, v) => credential(db, v, HEX64),
  },
  {
    constraint: 'credentials_envelope_digest_check',
    pattern: '^[0-9a-f]{64}$',
    ok: HEX64,
    alphabet: '0123456789abcdefABCDEF',
    insert: (db, v) => credential(db, KEY, v),
  },
  {
    constraint: 'sessions_label_check',
    pattern: '^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$',
    ok: 'My key 1_2.3-4',
    alphabet: 'AZaz09 _.-',
    insert: (db, v) => session(db, v),
  },
];

/** A distinct base64 ephemeral key per row (the column is UNIQUE). */
const ephemeralPub = () => randomBytes(32).toString('base64');

async function credential(db: Db, keyId: string, digest: string): Promise<unknown> {
  const id = await session(db, 'label');
  return db.query(
    `INSERT INTO credentials (session_id, alg, key_id, ephemeral_pub, nonce, ciphertext, tag,
                              binding, envelope_digest, created_at, expires_at)
     VALUES ($1, 'X25519-HKDF-SHA256-A256GCM', $2, $3, $4, 'AAAA', $5, $3, $6,
             now(), now() + interval '1 hour')`,
    [id, keyId, ephemeralPub(), 'A'.repeat(16), 'A'.repeat(22) + '==', digest],
  );
}

async function session(db: Db, label: string): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO sessions (id, exchange, label, status, created_at, expires_at)
     VALUES ($1, 'binance', $2, 'active', now(), now() + interval '1 hour')`,
    [id, label],
  );
  return id;
}

for (const engine of engines())
  describe(`row checks rewritten by migration 021 accept exactly what their patterns did (${engine})`, () => {
    let db: Db;
    let database: { url: string; drop: () => Promise<void> } | undefined;
    before(async () => {
      if (engine === 'postgres') {
        database = await createTestDatabase();
        db = await openPostgres(database.url);
      } else {
        db = await openTestPglite();
      }
      await migrate(db);
    });
    after(async () => {
      await db.close();
      await database?.drop();
    });

    for (const c of CASES) {
      it(c.constraint, async () => {
        let accepted = 0;
        let refused = 0;
        for (const v of values(c.ok, c.alphabet)) {
          const { rows } = await db.query<{ m: boolean }>('SELECT $1::text ~ $2 AS m', [
            v,
            c.pattern,
          ]);
          const expected = rows[0]!.m;
          const error = await db
            .transaction((tx) => c.insert(tx as Db, v))
            .then(
              () => null,
              (err: unknown) => err as { code?: string; message?: string },
            );
          if (expected) {
            assert.equal(error, null, `${JSON.stringify(v)} must be accepted`);
            accepted++;
          } else {
            assert.ok(error, `${JSON.stringify(v)} must be refused`);
            assert.equal(error.code, '23514', `${JSON.stringify(v)}: ${error.message}`);
            assert.match(error.message ?? '', new RegExp(c.constraint));
            refused++;
          }
        }
        assert.ok(accepted >= 2 && refused >= 5, `${accepted} accepted, ${refused} refused`);
      });
    }
  });
