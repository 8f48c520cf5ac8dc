/**
 * What a v2 result binds, as a verifier checks it (docs/protocol/signed-aggregates.md,
 * "Bindings"): a v1 result (fixture signed before v2) still verifies; audience and nonce are
 * refused unless exactly what the verifier asked for; the account commitment opens only with
 * the right account id and salt; the subject names the Cloister user; the summary says "covers
 * only …" unless every traded symbol was scanned.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  aggregatesRequestMismatches,
  COMPUTED_AT_SKEW_SECONDS,
  coverageWarning,
  type AggregatesRequest,
  openAccountCommitment,
  subjectIsUser,
  summarizeAggregates,
} from '../../src/client/aggregates/binding.js';
import { verifySignedAggregates } from '../../src/client/aggregates/verify.js';
import { signAggregates } from '../../src/enclave/aggregates/sign.js';
import { ed25519PrivateKeyObject } from '../../src/enclave/crypto/ed25519.js';
import {
  accountCommitment,
  aggregatesSubject,
  aggregatesWindow,
  DAY_MS,
  type AggregatesPayload,
  type AggregatesPayloadV2,
  type SignedAggregates,
} from '../../src/protocol/aggregates.js';
import {
  buildExample,
  EXAMPLE_ACCOUNT_ID,
  EXAMPLE_AUDIENCE,
  EXAMPLE_NONCE,
  EXAMPLE_SEED,
  EXAMPLE_SESSION_ID,
  EXAMPLE_USER_ID,
} from './example.js';

const v1 = JSON.parse(
  readFileSync(new URL('./fixtures/v1-result.json', import.meta.url), 'utf8'),
) as { resultsKey: string; aggregates_signed: SignedAggregates; digest: string };
const example = buildExample();
const trust = { resultsKey: example.resultsKey };
const payload = example.signed.payload as AggregatesPayloadV2;

describe('aggregates v1 results', () => {
  it('a v1 result signed before v2 still verifies, with its digest', () => {
    const v = verifySignedAggregates(v1.aggregates_signed, { resultsKey: v1.resultsKey });
    assert.deepEqual(v.reasons, []);
    assert.ok(v.valid);
    assert.equal(v.digest, v1.digest);
    assert.equal(v.payload.version, 'cloister/aggregates/v1');
    assert.match(summarizeAggregates(v.payload), /covers only 2 symbols/);
    assert.match(summarizeAggregates(v.payload), /v1: names no exchange account/);
  });

  it('a verifier that asked for an audience, a nonce or v2 refuses a v1 result', () => {
    for (const extra of [
      { expectedAudience: EXAMPLE_AUDIENCE },
      { expectedNonce: EXAMPLE_NONCE },
      { requireV2: true },
    ]) {
      const v = verifySignedAggregates(v1.aggregates_signed, {
        resultsKey: v1.resultsKey,
        ...extra,
      });
      assert.ok(!v.valid && v.reasons.some((r) => r.startsWith('version')));
    }
  });
});

describe('aggregates v2 bindings', () => {
  it('audience and nonce: exactly what the verifier asked for, else refused', () => {
    const ok = verifySignedAggregates(example.signed, {
      ...trust,
      expectedAudience: EXAMPLE_AUDIENCE,
      expectedNonce: EXAMPLE_NONCE,
    });
    assert.deepEqual(ok.reasons, []);
    const otherAudience = verifySignedAggregates(example.signed, {
      ...trust,
      expectedAudience: 'someone.else',
    });
    assert.ok(!otherAudience.valid && otherAudience.reasons.some((r) => r.startsWith('audience')));
    const replay = verifySignedAggregates(example.signed, {
      ...trust,
      expectedNonce: 'a-fresh-nonce-0000000',
    });
    assert.ok(!replay.valid && replay.reasons.some((r) => r.startsWith('nonce')));
    // A result made without audience/nonce is refused by a verifier that asked for them.
    const key = ed25519PrivateKeyObject(EXAMPLE_SEED);
    const open = signAggregates({ ...payload, audience: null, nonce: null }, key);
    assert.ok(!verifySignedAggregates(open, { ...trust, expectedNonce: EXAMPLE_NONCE }).valid);
    assert.ok(verifySignedAggregates(open, trust).valid);
  });

  it('the account commitment opens with the right id and salt only', () => {
    const salt = example.saltBase64;
    assert.equal(openAccountCommitment(payload, { accountId: EXAMPLE_ACCOUNT_ID, salt }), true);
    assert.equal(openAccountCommitment(payload, { accountId: '354937869', salt }), false);
    const otherSalt = Buffer.alloc(32, 7).toString('base64');
    assert.equal(
      openAccountCommitment(payload, { accountId: EXAMPLE_ACCOUNT_ID, salt: otherSalt }),
      false,
    );
    assert.equal(openAccountCommitment(payload, { accountId: 'x y', salt }), false);
    assert.equal(
      openAccountCommitment(payload, { accountId: EXAMPLE_ACCOUNT_ID, salt: 'AA==' }),
      false,
    );
    assert.equal(
      openAccountCommitment(v1.aggregates_signed.payload, { accountId: EXAMPLE_ACCOUNT_ID, salt }),
      false,
    );
    // The exchange is bound too: the same id on another exchange is another commitment.
    const s = Buffer.from(salt, 'base64');
    assert.notEqual(
      accountCommitment(s, 'bybit', EXAMPLE_ACCOUNT_ID),
      accountCommitment(s, 'binance', EXAMPLE_ACCOUNT_ID),
    );
  });

  it('the subject names the Cloister user: two users, two subjects', () => {
    assert.equal(subjectIsUser(payload, EXAMPLE_USER_ID), true);
    assert.equal(subjectIsUser(payload, '00000000-0000-4000-8000-0000000000ab'), false);
    assert.notEqual(
      aggregatesSubject({ userId: EXAMPLE_USER_ID }),
      aggregatesSubject({ userId: '00000000-0000-4000-8000-0000000000ab' }),
    );
    // A session without owner is named by its session, never confused with a user.
    assert.notEqual(
      aggregatesSubject({ sessionId: EXAMPLE_USER_ID }),
      aggregatesSubject({ userId: EXAMPLE_USER_ID }),
    );
  });

  it('the summary says "covers only …" unless every traded symbol was scanned', () => {
    assert.equal(payload.symbols_complete, false);
    assert.equal(
      coverageWarning(payload),
      'covers only 2 symbols (BTC/USDT, ETH/BTC); fills in any other symbol are not counted',
    );
    assert.match(summarizeAggregates(payload), /covers only 2 symbols \(BTC\/USDT, ETH\/BTC\)/);
    assert.match(summarizeAggregates(payload), /addressed to verifier\.example\.com/);
    const complete = { ...payload, symbols_complete: true };
    assert.equal(coverageWarning(complete), null);
    assert.doesNotMatch(summarizeAggregates(complete), /covers only/);
  });
});

describe('a result is the answer to the symbols asked for', () => {
  // The host passes the request's `symbols` on to `aggregates.start`: it may drop some (the
  // losing ones), name others, or turn a whole-account request into a partial one. Second attack
  // review (SECURITY.md, "Exchange egress and aggregates: second attack review").
  const asked = { sessionId: EXAMPLE_SESSION_ID };
  const mismatches = (p: AggregatesPayload, req: Partial<AggregatesRequest> = {}) =>
    aggregatesRequestMismatches(p, { ...asked, ...req }).filter((r) => r.startsWith('symbols'));

  it('symbols asked for: a result over any other symbol is refused', () => {
    assert.deepEqual(mismatches(payload, { symbols: ['BTC/USDT', 'ETH/BTC'] }), []);
    assert.deepEqual(mismatches(payload, { symbols: ['BTC/USDT', 'ETH/BTC', 'SOL/USDT'] }), []);
    assert.deepEqual(mismatches(payload, { symbols: ['BTC/USDT'] }), [
      'symbols: the result covers symbols not asked for',
    ]);
  });

  it('the whole account asked for: a partial result is refused where the exchange lists it whole', () => {
    for (const exchange of ['okx', 'bybit', 'coinbase'] as const) {
      const partial = { ...payload, exchange, symbols_complete: false };
      assert.deepEqual(mismatches(partial), [
        'symbols: the result covers only some symbols; the whole account was asked for',
      ]);
      assert.deepEqual(mismatches({ ...partial, symbols_complete: true }), []);
    }
    // Binance discovers the symbols from balances: a listing is never whole (open row).
    assert.deepEqual(mismatches(payload), []);
  });
});

describe('a result without `to` asked for ends when it was asked for', () => {
  // The host fills in a missing `to` with its "now": it could end the window before a loss.
  const sent = (p: AggregatesPayload) => Date.parse(p.to) / 1000;
  const reasons = (p: AggregatesPayload, requestedAt: number) =>
    aggregatesRequestMismatches(p, {
      sessionId: EXAMPLE_SESSION_ID,
      requestedAt,
      audience: EXAMPLE_AUDIENCE,
      nonce: EXAMPLE_NONCE,
    }).filter((r) => r.startsWith('to'));

  it('ends at the request (within the clock skew): accepted', () => {
    assert.deepEqual(reasons(payload, sent(payload)), []);
    assert.deepEqual(reasons(payload, sent(payload) + COMPUTED_AT_SKEW_SECONDS), []);
  });

  it('ends a day before the request: refused', () => {
    assert.deepEqual(reasons(payload, sent(payload) + DAY_MS / 1000), [
      'to: the result ends before this request was sent (it asked for "now")',
    ]);
  });
});

describe('the window rule (host, enclave and engine share it)', () => {
  const now = Date.UTC(2026, 10, 1);
  it('accepts a window inside the bounds and resolves an open start', () => {
    assert.deepEqual(aggregatesWindow({ from: now - DAY_MS, to: now }, now, 730), {
      from: now - DAY_MS,
      to: now,
    });
    assert.deepEqual(aggregatesWindow({ from: null, to: now }, now, 2), {
      from: now - 2 * DAY_MS,
      to: now,
    });
  });
  it('refuses from ≥ to, too long, in the future, before the epoch', () => {
    assert.equal(aggregatesWindow({ from: now, to: now }, now, 730), null);
    assert.equal(aggregatesWindow({ from: now - 3 * DAY_MS, to: now }, now, 2), null);
    assert.equal(aggregatesWindow({ from: null, to: now + 61_000 }, now, 730), null);
    assert.equal(aggregatesWindow({ from: -1, to: 1000 }, now, 730), null);
  });
});
