/**
 * The log entry's canonical form (src/protocol/log/entry.ts): `logEntryText` / `logEntryBytes`
 * take a shortcut (`canonicalLogEntry`) instead of the general RFC 8785 serializer, and a leaf
 * hash is over those bytes, so they must be jcs()'s to the byte:
 *
 * - for every valid entry (every type, every optional field present, absent or set to
 *   undefined, keys in any insertion order, the zod-parsed copy too), the shortcut applies and
 *   its text is jcs()'s;
 * - for anything else shaped more or less like an entry (strings with any code unit, lone
 *   surrogates included; NaN, infinities, -0, huge and tiny numbers; unknown keys; arrays,
 *   null, booleans; odd prototypes, toJSON, non-enumerable or inherited keys), logEntryText is
 *   jcs()'s text or throws where jcs() throws;
 * - the shortcut's key lists are every key of LogEntrySchema at every level (read from the
 *   schema's JSON Schema here, independently), so an entry using a new key is not left out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { jcs } from '../../src/protocol/jcs.js';
import { utf8 } from '../../src/protocol/encoding.js';
import {
  LOG_ENTRY_LEVELS,
  LOG_ENTRY_TYPES,
  LogEntrySchema,
  canonicalLogEntry,
  logEntryBytes,
  logEntryText,
  type LogEntry,
} from '../../src/protocol/log/entry.js';

const RUNS = 3000;

const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => a.join(''));
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';

/** An optional field: absent, present, or present with the value undefined. */
const optional = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof(
    fc.constant({ kind: 'absent' as const }),
    arb.map((value) => ({ kind: 'set' as const, value })),
    fc.constant({ kind: 'undefined' as const }),
  );

/** Builds an object from [key, optional] pairs in the given (shuffled) order. */
function build(
  fields: [string, { kind: 'absent' | 'set' | 'undefined'; value?: unknown }][],
): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, f] of fields) {
    if (f.kind === 'set') o[k] = f.value;
    else if (f.kind === 'undefined') o[k] = undefined;
  }
  return o;
}

const shuffled = <T>(items: T[]) => fc.shuffledSubarray(items, { minLength: items.length });

const digestsArb = fc
  .record({
    envelope: optional(chars(HEX, 64, 64)),
    payload: optional(chars(HEX, 64, 64)),
  })
  .chain((r) => shuffled(Object.entries(r)))
  .map(build);

const walletArb = fc
  .record({
    generation: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    address: optional(
      fc.oneof(
        chars(ALNUM, 32, 44),
        chars('0123456789abcdefABCDEF', 40, 40).map((h) => `0x${h}`),
      ),
    ),
    verdict: optional(fc.constantFrom('allowed', 'denied')),
    rule: optional(chars('abcdefghijklmnopqrstuvwxyz_', 1, 32)),
  })
  .chain(({ generation, ...rest }) =>
    shuffled([
      ['generation', { kind: 'set' as const, value: generation }],
      ...Object.entries(rest),
    ] as [string, { kind: 'absent' | 'set' | 'undefined'; value?: unknown }][]),
  )
  .map(build);

const entryArb: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    type: fc.constantFrom(...LOG_ENTRY_TYPES),
    subject: chars(`${ALNUM}_-`, 1, 64),
    time: fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
    digests: optional(digestsArb),
    wallet: optional(walletArb),
  })
  .chain(({ type, subject, time, ...rest }) =>
    shuffled([
      ['v', { kind: 'set' as const, value: 1 }],
      ['type', { kind: 'set' as const, value: type }],
      ['subject', { kind: 'set' as const, value: subject }],
      ['time', { kind: 'set' as const, value: time }],
      ...Object.entries(rest),
    ] as [string, { kind: 'absent' | 'set' | 'undefined'; value?: unknown }][]),
  )
  .map(build);

/** logEntryText(x) is jcs(x), or both throw. */
function sameAsJcs(x: unknown): void {
  let want: string | Error;
  try {
    want = jcs(x);
  } catch (err) {
    want = err as Error;
  }
  if (want instanceof Error) {
    assert.throws(() => logEntryText(x as LogEntry));
  } else {
    assert.equal(logEntryText(x as LogEntry), want);
    assert.deepEqual(logEntryBytes(x as LogEntry), utf8.encode(want));
  }
}

describe('log entry canonical form', () => {
  it('every valid entry takes the shortcut, byte for byte jcs()', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const parsed = LogEntrySchema.parse(e);
        for (const x of [e, parsed]) {
          const text = canonicalLogEntry(x);
          assert.notEqual(text, null, 'a valid entry must take the shortcut');
          assert.equal(text, jcs(x));
          assert.deepEqual(logEntryBytes(x as LogEntry), utf8.encode(jcs(x)));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('an entry with every field present takes the shortcut', () => {
    const full = LogEntrySchema.parse({
      wallet: {
        verdict: 'denied',
        rule: 'max_value',
        address: `0x${'ab'.repeat(20)}`,
        generation: 3,
      },
      time: 1765000000,
      digests: { payload: 'cd'.repeat(32), envelope: 'ef'.repeat(32) },
      subject: 'Ab-_9',
      type: 'wallet.signed',
      v: 1,
    });
    assert.equal(
      canonicalLogEntry(full),
      '{"digests":{"envelope":"' +
        'ef'.repeat(32) +
        '","payload":"' +
        'cd'.repeat(32) +
        '"},"subject":"Ab-_9","time":1765000000,"type":"wallet.signed","v":1,"wallet":' +
        `{"address":"0x${'ab'.repeat(20)}","generation":3,"rule":"max_value","verdict":"denied"}}`,
    );
    assert.equal(canonicalLogEntry(full), jcs(full));
  });

  it("the shortcut's key lists are every key of the schema, at every level", () => {
    // Read independently of entry.ts: from the schema's JSON Schema.
    type Js = { properties?: Record<string, Js>; anyOf?: Js[] };
    const levels = (schema: Js): unknown => {
      const props = schema.properties ?? {};
      const nested: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) {
        const obj = v.properties ? v : v.anyOf?.find((s) => s.properties);
        if (obj) nested[k] = levels(obj);
      }
      return { keys: Object.keys(props).sort(), nested };
    };
    type Level = typeof LOG_ENTRY_LEVELS;
    const ours = (l: Level): unknown => ({
      keys: [...l.keys],
      nested: Object.fromEntries([...l.nested].map(([k, sub]) => [k, ours(sub)])),
    });
    assert.deepEqual(ours(LOG_ENTRY_LEVELS), levels(z.toJSONSchema(LogEntrySchema) as Js));
    for (const l of [LOG_ENTRY_LEVELS, ...LOG_ENTRY_LEVELS.nested.values()]) {
      assert.deepEqual([...l.allowed].sort(), l.keys);
      assert.deepEqual(
        l.quoted,
        l.keys.map((k) => `${JSON.stringify(k)}:`),
      );
    }
  });

  it('anything not a valid entry is serialized as jcs() does, or refused as jcs() refuses', () => {
    const str = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ maxLength: 8 }),
      fc.constantFrom('\uD800', 'a\uDC00b', '\uD83D\uDE00', '"\\\n\u0001\u007f\u2028', 'é'),
    );
    const num = fc.oneof(
      fc.double(),
      fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e21, 5e-324, 2 ** 53, -1, 0.1),
    );
    const leaf = fc.oneof(
      str,
      num,
      fc.constantFrom(null, true, false, undefined),
      fc.array(fc.oneof(str, num), { maxLength: 3 }),
    );
    const key = fc.oneof(
      fc.constantFrom('v', 'type', 'subject', 'time', 'digests', 'wallet', 'envelope', 'rule'),
      fc.constantFrom('generation', 'payload', 'address', 'verdict', 'x', 'é', '\uD800', '10'),
    );
    const sub = fc.dictionary(key, leaf, { maxKeys: 5 });
    const loose = fc.dictionary(key, fc.oneof(leaf, sub), { maxKeys: 8 });
    fc.assert(
      fc.property(
        fc.oneof(
          loose,
          entryArb.chain((e) => mutate(e)),
        ),
        sameAsJcs,
      ),
      { numRuns: RUNS },
    );
  });

  it('odd objects: prototypes, toJSON, non-enumerable and inherited keys', () => {
    const base = (): Record<string, unknown> => ({
      v: 1,
      type: 'credential.submitted',
      subject: 'abc',
      time: 5,
      digests: { envelope: 'ab'.repeat(32) },
    });
    const nullProto = Object.assign(Object.create(null) as object, base());
    const inherited = Object.create(base()) as object;
    const withToJson = { ...base(), toJSON: () => ({ a: 1 }) };
    const hidden = base();
    Object.defineProperty(hidden, 'wallet', { value: { generation: 1 }, enumerable: false });
    class Entry {
      v = 1;
      type = 'session.revoked';
      subject = 'x';
      time = 1;
    }
    const nestedNull = { ...base(), digests: Object.assign(Object.create(null) as object, {}) };
    for (const x of [nullProto, inherited, withToJson, hidden, new Entry(), nestedNull]) {
      sameAsJcs(x);
    }
    assert.equal(canonicalLogEntry(hidden), null);
    assert.equal(canonicalLogEntry(inherited), null);

    // A polluted Object.prototype: jcs() ignores inherited keys, and so must the shortcut.
    const proto = Object.prototype as Record<string, unknown>;
    try {
      proto.wallet = { generation: 2 };
      sameAsJcs(base());
      assert.equal(canonicalLogEntry(base()), null);
    } finally {
      delete proto.wallet;
    }
    assert.notEqual(canonicalLogEntry(base()), null);
  });
});

/** A valid entry with one thing changed: a value replaced, a key added or removed. */
function mutate(e: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const odd = fc.oneof(
    fc.constantFrom(NaN, Infinity, -0, 1.5, '\uDBFF', 'a"b\\c\n', null, true, [], {}),
    fc.string({ unit: 'binary', maxLength: 6 }),
  );
  const keys = Object.keys(e);
  return fc
    .tuple(fc.nat(), odd, fc.constantFrom('replace', 'add', 'delete', 'nested'))
    .map(([i, value, how]) => {
      const out: Record<string, unknown> = structuredClone(e);
      const k = keys[i % keys.length]!;
      if (how === 'replace') out[k] = value;
      else if (how === 'add') out[`extra${i % 3}`] = value;
      else if (how === 'delete') delete out[k];
      else out.digests = { envelope: value, ...(i % 2 ? { other: 1 } : {}) };
      return out;
    });
}
