/**
 * The top-level files of src/protocol for the mutation run (docs/mutation-testing.md): every
 * schema bound at its exact edge, each regex's anchors, the refusal messages that reach users,
 * the wire strings recomputed from docs/protocol/ (log subjects, commitments, thumbprints), the
 * window and daily-series rules of signed aggregates, and the exact decimal arithmetic. The
 * vectors and service tests prove the formats; these prove each check is needed on its own.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { addr } from 'micro-eth-signer';
import { z } from 'zod';
import {
  accountCommitment,
  AGGREGATES_FUTURE_SKEW_MS,
  AggregatesContextSchema,
  AggregatesNonceSchema,
  AggregateFiguresSchema,
  AggregatesPayloadV1Schema,
  AggregatesPayloadV2Schema,
  AggregatesPayloadV3Schema,
  aggregatesSubject,
  aggregatesWindow,
  AudienceSchema,
  CurrencySchema,
  DailyRowSchema,
  dailySeriesProblem,
  DAY_MS,
  ExchangeAccountIdSchema,
  IsoUtcSchema,
  SymbolSchema,
  windowDays,
} from '../../src/protocol/aggregates.js';
import {
  AccessClaimsSchema,
  AuthPlaintextSchema,
  EmailSchema,
  Es256PublicJwkSchema,
  JwksSchema,
  KidSchema,
  PASSWORD_MAX_LENGTH,
  PasswordSchema,
  userLogSubject,
} from '../../src/protocol/auth.js';
import {
  CredentialPlaintextSchema,
  LabelSchema,
  MIN_TTL_SECONDS,
  SessionMetadataSchema,
} from '../../src/protocol/credentials.js';
import {
  addDecimals,
  DecimalStringSchema,
  plainDecimal,
  subDecimals,
} from '../../src/protocol/decimal-string.js';
import {
  base64Bytes,
  base64Range,
  base64ToBytes,
  base64ToBytesPortable,
  base64urlBytes,
  base64urlToBytes,
  bytesToBase64url,
  hexBytes,
  hexToBytes,
} from '../../src/protocol/encoding.js';
import {
  ENCLAVE_SHARED_ENV,
  ENCLAVE_SPAWN_ENV,
  EnclaveSharedEnvSchema,
  enclaveEnvIssues,
  siweChainIdsOf,
  siweDomainOf,
  webauthnRpOf,
} from '../../src/protocol/enclave-env.js';
import { EXCHANGE_URL_VARS } from '../../src/protocol/exchange-table.js';
import { jcs } from '../../src/protocol/jcs.js';
import { KeyIdSchema, okpThumbprint } from '../../src/protocol/key-id.js';
import {
  formatSiweMessage,
  parseDateTime,
  parseSiweMessage,
  SIWE_MAX_LENGTH,
  SiweParseError,
  uriAuthority,
} from '../../src/protocol/siwe.js';
import { buildExample } from '../aggregates/example.js';

const sha256hex = (...parts: (string | Uint8Array)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};
const ok = (schema: z.ZodType, v: unknown): void => {
  const r = schema.safeParse(v);
  assert.ok(r.success, `${JSON.stringify(v)?.slice(0, 80)} should pass: ${r.error?.message}`);
};
const no = (schema: z.ZodType, v: unknown, message?: string): void => {
  const r = schema.safeParse(v);
  assert.ok(!r.success, `${JSON.stringify(v)?.slice(0, 80)} should be refused`);
  if (message !== undefined)
    assert.deepEqual([...new Set(r.error.issues.map((i) => i.message))], [message]);
};
const b64u43 = 'A'.repeat(42) + '_';

describe('auth.ts', () => {
  it('an email is trimmed and lower-cased, 3 to 254 chars, one "@" between non-blank parts', () => {
    assert.equal(EmailSchema.parse('  Ab@Ex.COM '), 'ab@ex.com');
    ok(EmailSchema, 'a@b');
    ok(EmailSchema, 'ab@cd');
    const long = `${'a'.repeat(250)}@b.c`;
    assert.equal(long.length, 254);
    ok(EmailSchema, long);
    no(EmailSchema, `a${long}`);
    const msg = 'email must look like name@domain';
    for (const bad of ['a@b@c', 'a b@c', 'ab@c d', '@bc', 'ab@', 'a@@b']) no(EmailSchema, bad, msg);
  });

  it("a password is 1 to PASSWORD_MAX_LENGTH chars (the minimum is the enclave's)", () => {
    ok(PasswordSchema, 'x');
    ok(PasswordSchema, 'xy');
    ok(PasswordSchema, 'x'.repeat(PASSWORD_MAX_LENGTH));
    no(PasswordSchema, 'x'.repeat(PASSWORD_MAX_LENGTH + 1));
    no(PasswordSchema, '');
  });

  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    x: b64u43,
    y: b64u43,
    kid: b64u43,
    use: 'sig',
    alg: 'ES256',
  };
  it('a kid, x and y are exactly 43 base64url chars (RFC 7638 thumbprint / P-256 coordinate)', () => {
    ok(KidSchema, b64u43);
    for (const bad of [
      b64u43.slice(1),
      `${b64u43}A`,
      `!${b64u43.slice(1)}`,
      `${b64u43.slice(1)}!`,
    ]) {
      no(KidSchema, bad);
      for (const k of ['x', 'y', 'kid'] as const) no(Es256PublicJwkSchema, { ...jwk, [k]: bad });
    }
  });

  it('the ES256 JWK keeps every member and refuses another kty, crv, use or alg', () => {
    assert.deepEqual(Es256PublicJwkSchema.parse(jwk), jwk);
    for (const [k, v] of [
      ['kty', 'OKP'],
      ['crv', 'P-384'],
      ['use', 'enc'],
      ['alg', 'EdDSA'],
    ]) {
      no(Es256PublicJwkSchema, { ...jwk, [k!]: v });
    }
  });

  it('a JWKS holds 0 to 64 keys', () => {
    assert.deepEqual(JwksSchema.parse({ keys: [jwk] }), { keys: [jwk] });
    ok(JwksSchema, { keys: [] });
    ok(JwksSchema, { keys: Array(64).fill(jwk) });
    no(JwksSchema, { keys: Array(65).fill(jwk) });
  });

  it('the auth plaintext takes each of the five actions and keeps every member', () => {
    for (const action of ['register', 'login', 'reset', 'link', 'change']) {
      const p = { purpose: 'auth', action, email: 'a@b.c', password: 'pw', issued_at: 0 };
      assert.deepEqual(AuthPlaintextSchema.parse(p), p);
    }
    no(AuthPlaintextSchema, {
      purpose: 'auth',
      action: 'delete',
      email: 'a@b.c',
      password: 'p',
      issued_at: 0,
    });
    no(AuthPlaintextSchema, {
      purpose: '',
      action: 'login',
      email: 'a@b.c',
      password: 'p',
      issued_at: 0,
    });
  });

  it('access claims keep their members; amr has at most 8 methods of at most 16 chars', () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const c = {
      iss: 'i',
      aud: 'a',
      sub: id,
      sid: id,
      exp: 2,
      iat: 1,
      jti: id,
      roles: ['operator'],
      amr: ['pwd'],
      auth_time: 1,
    };
    assert.deepEqual(AccessClaimsSchema.parse(c), c);
    ok(AccessClaimsSchema, { ...c, amr: Array(8).fill('x'.repeat(16)) });
    no(AccessClaimsSchema, { ...c, amr: Array(9).fill('pwd') });
    no(AccessClaimsSchema, { ...c, amr: ['x'.repeat(17)] });
  });

  it('a user\'s log subject is SHA-256("cloister/log/user/v1\\n" ‖ lower-case id)', () => {
    const id = '00000000-0000-4000-8000-0000000000AA';
    assert.equal(userLogSubject(id), sha256hex(`cloister/log/user/v1\n${id.toLowerCase()}`));
  });
});

describe('credentials.ts', () => {
  const labelMsg =
    'label: 1-64 chars of letters, digits, space, "_", "." or "-", starting alphanumeric';
  it('a label is 1-64 printable chars starting alphanumeric', () => {
    for (const good of ['a', 'ab', 'a b_c.d-e', `a${'x'.repeat(63)}`]) ok(LabelSchema, good);
    for (const bad of ['', ' a', '-a', 'a!', 'a\n', `a${'x'.repeat(64)}`])
      no(LabelSchema, bad, labelMsg);
  });

  it('session metadata keeps every member; ttl is at least MIN_TTL_SECONDS', () => {
    const m = { exchange: 'okx', label: 'main', ttl: MIN_TTL_SECONDS };
    assert.deepEqual(SessionMetadataSchema.parse(m), m);
    ok(SessionMetadataSchema, { ...m, ttl: MIN_TTL_SECONDS + 1 });
    no(SessionMetadataSchema, { ...m, ttl: MIN_TTL_SECONDS - 1 });
  });

  it('credential plaintext: apiKey 1-512, apiSecret 1-2048, passphrase 1-256 chars', () => {
    const c = { exchange: 'okx', apiKey: 'k', apiSecret: 's', passphrase: 'p', issued_at: 0 };
    assert.deepEqual(CredentialPlaintextSchema.parse(c), c);
    for (const [k, max] of [
      ['apiKey', 512],
      ['apiSecret', 2048],
      ['passphrase', 256],
    ] as const) {
      ok(CredentialPlaintextSchema, { ...c, [k]: 'x'.repeat(max) });
      ok(CredentialPlaintextSchema, { ...c, [k]: 'xy' });
      no(CredentialPlaintextSchema, { ...c, [k]: 'x'.repeat(max + 1) });
      no(CredentialPlaintextSchema, { ...c, [k]: '' });
    }
  });
});

describe('key-id.ts, jcs.ts, exchange-table.ts', () => {
  it('an OKP thumbprint needs a 32-byte key; a key id is exactly 43 base64url chars', () => {
    assert.throws(() => okpThumbprint('Ed25519', new Uint8Array(31)), {
      name: 'RangeError',
      message: 'publicKey must be 32 bytes',
    });
    ok(KeyIdSchema, b64u43);
    const msg = 'key_id must be an RFC 7638 thumbprint (43 base64url chars)';
    for (const bad of [`${b64u43}A`, `!${b64u43}`, `${b64u43}!`, b64u43.slice(1)])
      no(KeyIdSchema, bad, msg);
  });

  it('jcs refuses a value with no JSON form', () => {
    assert.throws(() => jcs(undefined), {
      name: 'TypeError',
      message: 'value cannot be canonicalized',
    });
  });

  it('the base-URL variables are named in EXCHANGES order', () => {
    assert.deepEqual(EXCHANGE_URL_VARS, [
      'BINANCE_BASE_URL',
      'BYBIT_BASE_URL',
      'OKX_BASE_URL',
      'COINBASE_BASE_URL',
    ]);
  });
});

describe('decimal-string.ts', () => {
  it('a canonical decimal is anchored, and -0 is refused with its own message', () => {
    for (const good of ['0', '-12.5', '0.0001', '10']) ok(DecimalStringSchema, good);
    const msg = 'must be a canonical plain decimal string';
    for (const bad of ['x1', '1x', '01', '1.50', '1e3', '+1', '1.'])
      no(DecimalStringSchema, bad, msg);
    no(DecimalStringSchema, '-0', 'must not be -0');
  });

  it('plainDecimal writes out exponents exactly, both ways, with the sign', () => {
    assert.equal(plainDecimal(1e21), '1000000000000000000000');
    assert.equal(plainDecimal(-1e21), '-1000000000000000000000');
    assert.equal(plainDecimal(1.5e-7), '0.00000015');
    assert.equal(plainDecimal(-1.5), '-1.5');
    assert.equal(plainDecimal(0.05), '0.05');
    assert.equal(plainDecimal(0), '0');
    for (const x of [Infinity, -Infinity, NaN]) {
      assert.throws(() => plainDecimal(x), { name: 'RangeError', message: 'not finite' });
    }
  });

  it('addition and subtraction are exact, accept an unsigned exponent and refuse non-decimals', () => {
    assert.equal(addDecimals('1e3', '0'), '1000');
    assert.equal(addDecimals('1e-3', '0.05'), '0.051');
    assert.equal(addDecimals('0.05', '0'), '0.05');
    assert.equal(addDecimals('1', '-1'), '0');
    assert.equal(subDecimals('0.1', '0.3'), '-0.2');
    assert.equal(subDecimals('-1.25', '0.75'), '-2');
    for (const bad of ['x1', '1x', '1e', '1ex', '1e+']) {
      assert.throws(() => addDecimals(bad, '0'), { name: 'RangeError', message: 'not a decimal' });
    }
  });
});

describe('aggregates.ts', () => {
  const v3 = buildExample().signed.payload as Record<string, unknown>;
  const { daily: _daily, ...noDaily } = v3;
  const v2 = { ...noDaily, version: 'cloister/aggregates/v2' };
  const v1 = Object.fromEntries(
    Object.entries(v2).filter(
      ([k]) =>
        !['account_commitment', 'subject', 'audience', 'nonce', 'symbols_complete'].includes(k),
    ),
  );
  v1.version = 'cloister/aggregates/v1';

  it('windowDays counts the UTC days that intersect [from, to), 0 when empty', () => {
    assert.equal(windowDays(5, 5), 0);
    assert.equal(windowDays(10 * DAY_MS, 0), 0);
    assert.equal(windowDays(0, 1), 1);
    assert.equal(windowDays(DAY_MS - 1, DAY_MS + 1), 2);
  });

  it('the window rule: finite, not in the future beyond the skew, from >= 0, from < to', () => {
    const now = 100 * DAY_MS;
    assert.equal(aggregatesWindow({ from: NaN, to: DAY_MS }, now, 30), null);
    assert.equal(aggregatesWindow({ from: 0, to: NaN }, now, 30), null);
    const edge = now + AGGREGATES_FUTURE_SKEW_MS;
    assert.deepEqual(aggregatesWindow({ from: edge - DAY_MS, to: edge }, now, 30), {
      from: edge - DAY_MS,
      to: edge,
    });
    assert.equal(aggregatesWindow({ from: edge - DAY_MS, to: edge + 1 }, now, 30), null);
    assert.deepEqual(aggregatesWindow({ from: 0, to: DAY_MS }, now, 30), { from: 0, to: DAY_MS });
    assert.equal(aggregatesWindow({ from: -1, to: DAY_MS }, now, 30), null);
    assert.deepEqual(aggregatesWindow({ from: null, to: now }, now, 30), {
      from: now - 30 * DAY_MS,
      to: now,
    });
    assert.equal(aggregatesWindow({ from: DAY_MS, to: DAY_MS }, now, 30), null);
    // The epoch bound is on a given `from`; an omitted one is `to` minus the longest window.
    assert.deepEqual(aggregatesWindow({ from: null, to: DAY_MS }, now, 30), {
      from: DAY_MS - 30 * DAY_MS,
      to: DAY_MS,
    });
  });

  it('audience, nonce, account id, currency and symbol regexes are anchored, with their messages', () => {
    ok(AudienceSchema, 'a'.repeat(200));
    ok(AudienceSchema, 'https://v.example/x@y+z~');
    for (const bad of [' a', 'a ', 'a'.repeat(201), ''])
      no(AudienceSchema, bad, 'audience: 1-200 URL-safe characters');
    ok(AggregatesNonceSchema, 'a'.repeat(16));
    for (const bad of ['!'.concat('a'.repeat(16)), 'a'.repeat(16).concat('!'), 'a'.repeat(129)]) {
      no(AggregatesNonceSchema, bad, 'nonce: 16-128 base64url characters');
    }
    ok(ExchangeAccountIdSchema, '354937868');
    for (const bad of ['!1', '1!', 'a'.repeat(65)]) no(ExchangeAccountIdSchema, bad);
    ok(CurrencySchema, 'USDT');
    for (const bad of ['uUSDT', 'USDTu', 'A'.repeat(21)])
      no(CurrencySchema, bad, 'currency: 1-20 upper-case letters or digits');
    ok(SymbolSchema, 'BTC/USDT');
    for (const bad of ['xBTC/USDT', 'BTC/USDTx', 'BTC/USDT/ETH'])
      no(SymbolSchema, bad, 'symbol: BASE/QUOTE in upper case');
  });

  it('an ISO time is anchored and must be a real instant, refused without throwing', () => {
    ok(IsoUtcSchema, '2026-01-01T00:00:00.000Z');
    no(IsoUtcSchema, 'x2026-01-01T00:00:00.000Z');
    no(IsoUtcSchema, '2026-01-01T00:00:00.000Zx');
    const msg = 'must be a valid ISO 8601 UTC time (YYYY-MM-DDTHH:mm:ss.sssZ)';
    no(IsoUtcSchema, '2026-02-30T00:00:00.000Z', msg);
    no(IsoUtcSchema, '2026-13-01T00:00:00.000Z', msg);
  });

  it('figures: no -0, volume >= 0, win_rate in [0, 1], each with its message', () => {
    const f = Object.fromEntries(Object.keys(AggregateFiguresSchema.shape).map((k) => [k, v3[k]]));
    ok(AggregateFiguresSchema, f);
    no(AggregateFiguresSchema, { ...f, pnl: -0 }, 'must not be -0');
    no(AggregateFiguresSchema, { ...f, volume: -1 }, 'must be >= 0');
    for (const w of [0, 1, null]) ok(AggregateFiguresSchema, { ...f, win_rate: w });
    for (const w of [-0.1, 1.1])
      no(AggregateFiguresSchema, { ...f, win_rate: w }, 'must be in [0, 1]');
  });

  it('context: api_host is a host[:port] or [ip6][:port], nothing more; measurement 32 or 48 bytes', () => {
    const c = Object.fromEntries(Object.keys(AggregatesContextSchema.shape).map((k) => [k, v3[k]]));
    ok(AggregatesContextSchema, c);
    for (const h of [
      'api.binance.com',
      'api.binance.com:8443',
      '[::1]',
      '[::1]:8443',
      '[::1]:65535',
    ]) {
      ok(AggregatesContextSchema, { ...c, api_host: h });
    }
    for (const h of [
      'x/api.binance.com',
      'api.binance.com/x',
      'a b[::1]',
      '[::1]x',
      '[::1]:8443x',
      '[]',
    ]) {
      no(AggregatesContextSchema, { ...c, api_host: h });
    }
    for (const m of ['a'.repeat(64), 'a'.repeat(96)])
      ok(AggregatesContextSchema, { ...c, measurement: m });
    for (const m of [
      'a'.repeat(65),
      'za'.concat('a'.repeat(64)),
      'a'.repeat(64).concat('z'),
      'a'.repeat(63),
    ]) {
      no(AggregatesContextSchema, { ...c, measurement: m });
    }
    const sorted = 'must be sorted and unique';
    no(AggregatesContextSchema, { ...c, symbols_scanned: ['ETH/BTC', 'BTC/USDT'] }, sorted);
    no(AggregatesContextSchema, { ...c, symbols_scanned: ['BTC/USDT', 'BTC/USDT'] }, sorted);
    ok(AggregatesContextSchema, { ...c, symbols_scanned: ['BTC/USDT'] });
  });

  it('v1 and v2 payloads parse whole; from after to is refused on "to", from = to is fine', () => {
    assert.deepEqual(AggregatesPayloadV2Schema.parse(v2), v2);
    assert.deepEqual(AggregatesPayloadV1Schema.parse(v1), v1);
    for (const schema of [
      AggregatesPayloadV1Schema,
      AggregatesPayloadV2Schema,
      AggregatesPayloadV3Schema,
    ]) {
      const p: Record<string, unknown> =
        schema === AggregatesPayloadV1Schema ? v1 : schema === AggregatesPayloadV2Schema ? v2 : v3;
      ok(schema, {
        ...p,
        from: p.to,
        ...(schema === AggregatesPayloadV3Schema ? { daily: [], pnl: 0 } : {}),
      });
      const r = schema.safeParse({ ...p, from: '2027-01-01T00:00:00.000Z' });
      assert.ok(!r.success);
      assert.deepEqual(
        r.error.issues.map((i) => [i.message, i.path]),
        [['from must not be after to', ['to']]],
      );
    }
  });

  it('v3: the daily series is checked (on "daily") exactly when from <= to', () => {
    const daily = v3.daily as { day: string; pnl: string; cumulative: string }[];
    const bad = [...daily.slice(0, 3), { ...daily[3]!, cumulative: '1' }];
    const r = AggregatesPayloadV3Schema.safeParse({ ...v3, daily: bad });
    assert.ok(!r.success);
    assert.deepEqual(
      r.error.issues.map((i) => [i.code, i.message, i.path]),
      [['custom', 'cumulative must be the running sum of pnl', ['daily']]],
    );
    no(AggregatesPayloadV3Schema, { ...v3, from: v3.to, pnl: 0, daily: [daily[0]] });
  });

  it('dailySeriesProblem names each broken rule, null when the series fits', () => {
    const daily = v3.daily as { day: string; pnl: string; cumulative: string }[];
    const p = { from: v3.from as string, to: v3.to as string, pnl: v3.pnl as number, daily };
    assert.equal(dailySeriesProblem(p), null);
    assert.equal(
      dailySeriesProblem({ ...p, daily: daily.slice(1) }),
      'must have one row per UTC day of the window',
    );
    assert.equal(
      dailySeriesProblem({ ...p, daily: [daily[1]!, daily[0]!, ...daily.slice(2)] }),
      "days must be the window's UTC days, in order",
    );
    assert.equal(
      dailySeriesProblem({ ...p, daily: [{ ...daily[0]!, cumulative: '1' }, ...daily.slice(1)] }),
      'cumulative must be the running sum of pnl',
    );
    assert.equal(dailySeriesProblem({ ...p, pnl: 1 }), 'the daily pnl must sum to pnl exactly');
  });

  it("a daily row's day is anchored YYYY-MM-DD", () => {
    ok(DailyRowSchema, { day: '2026-01-01', pnl: '0', cumulative: '0' });
    no(DailyRowSchema, { day: 'x2026-01-01', pnl: '0', cumulative: '0' });
    no(DailyRowSchema, { day: '2026-01-01x', pnl: '0', cumulative: '0' });
  });

  it('account commitment and subject recomputed from signed-aggregates.md, inputs checked', () => {
    const salt = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.equal(
      accountCommitment(salt, 'okx', '42'),
      sha256hex('cloister/aggregates/account/v1\n', salt, 'okx\n42'),
    );
    assert.throws(() => accountCommitment(salt.subarray(1), 'okx', '42'), {
      name: 'RangeError',
      message: 'salt: 32 bytes',
    });
    assert.throws(() => accountCommitment(salt, 'kraken', '42'));
    assert.throws(() => accountCommitment(salt, 'okx', '4 2'));
    const sid = '00000000-0000-4000-8000-0000000000AB';
    assert.equal(
      aggregatesSubject({ sessionId: sid }),
      sha256hex(`cloister/aggregates/subject/v1\nsession:${sid.toLowerCase()}`),
    );
    assert.equal(
      aggregatesSubject({ userId: 'u1' }),
      sha256hex('cloister/aggregates/subject/v1\nuser:u1'),
    );
  });
});

describe('siwe.ts (EIP-4361)', () => {
  const address = addr.addChecksum(`0x${'ab'.repeat(10)}${'cd'.repeat(10)}`);
  const base = {
    scheme: 'https',
    domain: 'example.com',
    address,
    statement: 'Sign in',
    uri: 'https://example.com/login',
    chainId: 1,
    nonce: 'abcdefgh',
    issuedAt: '2026-01-01T00:00:00Z',
    expirationTime: '2026-01-02T00:00:00Z',
    notBefore: '2025-12-31T00:00:00Z',
    requestId: 'req-1',
    resources: ['https://example.com/r1', 'ipfs://x'],
  };
  const text = formatSiweMessage(base);
  const lines = text.split('\n');
  const withLine = (label: string, value: string | null): string =>
    lines
      .flatMap((l) =>
        l.startsWith(`${label}: `) ? (value === null ? [] : [`${label}: ${value}`]) : [l],
      )
      .join('\n');
  const refused = (t: string, field: string): void => {
    assert.throws(
      () => parseSiweMessage(t),
      (e: unknown) =>
        e instanceof SiweParseError &&
        e.field === field &&
        e.message === `invalid SIWE message: ${field}`,
      `${field}: ${JSON.stringify(t.slice(0, 120))}`,
    );
  };

  it('a full message round-trips through format and parse, request id included', () => {
    assert.deepEqual(parseSiweMessage(text), { ...base, version: '1' });
    assert.ok(lines.includes('Request ID: req-1'));
    const { requestId: _r, ...noId } = base;
    assert.ok(!formatSiweMessage(noId).includes('Request ID'));
  });

  it('the length bound is inclusive at SIWE_MAX_LENGTH', () => {
    const pad = SIWE_MAX_LENGTH - text.length;
    const at = formatSiweMessage({
      ...base,
      statement: `${base.statement}${' '.repeat(pad - 1)}x`,
    });
    assert.equal(at.length, SIWE_MAX_LENGTH);
    assert.equal(parseSiweMessage(at).nonce, base.nonce);
    refused(`${at}x`, 'length');
  });

  it('header, scheme and domain refusals name their field', () => {
    refused(`x\n${text}`, 'header');
    refused(text.replace('https://', '1https://'), 'scheme');
    refused(text.replace('https://', '_https://'), 'scheme');
    refused(text.replace('https://', 'https_://'), 'scheme');
    refused(text.replace('https://', '://'), 'scheme');
    refused(text.replace('example.com wants', 'exa mple.com wants'), 'domain');
    refused(text.replace('https://example.com wants', 'https:// wants'), 'domain');
    const pct = parseSiweMessage(text.replace('example.com wants', 'ex%41mple.com wants'));
    assert.equal(pct.domain, 'ex%41mple.com');
  });

  it('the address is anchored and EIP-55 checksummed', () => {
    refused(text.replace(address, address.toLowerCase()), 'address');
    refused(text.replace(address, `x${address}`), 'address');
    refused(text.replace(address, `${address}0`), 'address');
    refused(lines[0]!, 'address');
  });

  it('statement: anchored charset, framed by blank lines', () => {
    refused(text.replace('Sign in', '\u00e9Sign in'), 'statement');
    refused(text.replace('Sign in', 'Sign in\u00e9'), 'statement');
    refused(text.replace(`${address}\n\n`, `${address}\nx\n`), 'statement');
    refused(text.replace('Sign in\n\n', 'Sign in\n'), 'statement');
    refused(`${lines[0]}\n${address}\n`, 'statement');
  });

  it('each required field, missing, is refused under its own name', () => {
    for (const [label, field] of [
      ['URI', 'uri'],
      ['Version', 'version'],
      ['Chain ID', 'chainId'],
      ['Nonce', 'nonce'],
      ['Issued At', 'issuedAt'],
    ]) {
      refused(withLine(label!, null), field!);
    }
  });

  it('each field value is checked: uri, version, chain id, nonce, times, request id', () => {
    refused(withLine('URI', 'not a uri'), 'uri');
    refused(withLine('Version', '2'), 'version');
    for (const c of ['x1', '1x', '1234567890123456', ''])
      refused(withLine('Chain ID', c), 'chainId');
    assert.equal(
      parseSiweMessage(withLine('Chain ID', '123456789012345')).chainId,
      123456789012345,
    );
    for (const n of ['abcdefg', '!abcdefgh', 'abcdefgh!']) refused(withLine('Nonce', n), 'nonce');
    refused(withLine('Issued At', '2026-02-30T00:00:00Z'), 'issuedAt');
    refused(withLine('Expiration Time', '2026-01-01'), 'expirationTime');
    refused(withLine('Not Before', 'soon'), 'notBefore');
    refused(withLine('Request ID', 'a b'), 'requestId');
    assert.equal(parseSiweMessage(withLine('Request ID', 'a%20b:@')).requestId, 'a%20b:@');
  });

  it('resources are "- <uri>" lines; anything after them or an unknown line is trailing', () => {
    refused(`${text}\nxxhttps://example.com`, 'resources');
    refused(`${text}\n- not a uri`, 'resources');
    const { resources: _r, ...noRes } = base;
    refused(`${formatSiweMessage(noRes)}\nextra`, 'trailing');
  });

  it('parseDateTime: anchored RFC 3339 naming a real instant, each bound at its edge', () => {
    assert.throws(
      () => parseDateTime('x'),
      (e: unknown) => e instanceof SiweParseError && e.field === 'date-time',
    );
    for (const good of [
      '2026-12-01T00:00:00Z',
      '2026-01-01T23:59:59Z',
      '2026-01-31T00:00:00.5+23:00',
      '2026-01-01T00:00:00-00:59',
    ]) {
      assert.equal(parseDateTime(good), Date.parse(good));
    }
    for (const bad of [
      'x2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00Zx',
      '2026-01-01T24:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-01-01T23:59:60Z',
    ]) {
      assert.throws(
        () => parseDateTime(bad, 'f'),
        (e: unknown) => e instanceof SiweParseError && e.field === 'f',
        bad,
      );
    }
  });

  it('uriAuthority is the part between "//" and the path, null without one', () => {
    assert.equal(uriAuthority('https://a.b/c'), 'a.b');
    assert.equal(uriAuthority('https://a.b?x#y'), 'a.b');
    assert.equal(uriAuthority('h://x'), 'x');
    assert.equal(uriAuthority('https://'), '');
    for (const u of ['urn:x', ' https://a', '1https://a', 'ht tp://a'])
      assert.equal(uriAuthority(u), null, u);
  });
});

describe('encoding.ts', () => {
  const typeErr = (f: () => unknown, message: string): void => {
    assert.throws(f, (e: unknown) => e instanceof TypeError && e.message === message, message);
  };

  it('base64 decoders refuse a bad alphabet, missing padding and trailing bits, each with its message', () => {
    for (const decode of [base64ToBytes, base64ToBytesPortable]) {
      assert.deepEqual(decode('AAECAw=='), Uint8Array.of(0, 1, 2, 3));
      assert.deepEqual(decode(''), new Uint8Array(0));
      for (const bad of ['!AAAA', 'AAAA!', 'AAA', 'AA=', 'A A=', '!!!!'])
        typeErr(() => decode(bad), 'invalid base64');
      typeErr(() => decode('AB=='), 'non-canonical base64');
    }
  });

  it('base64url: strips padding only, refuses another alphabet and a length of 4k+1', () => {
    assert.equal(bytesToBase64url(Uint8Array.of(0xfb, 0xff)), '-_8');
    assert.deepEqual(base64urlToBytes('-_8'), Uint8Array.of(0xfb, 0xff));
    for (const bad of ['!!', 'AAAAA', 'A', 'AA='])
      typeErr(() => base64urlToBytes(bad), 'invalid base64url');
  });

  it('a value that is not a string is refused with the same message (JSON gives numbers)', () => {
    const n = 1234 as unknown as string;
    typeErr(() => base64ToBytes(n), 'invalid base64');
    typeErr(() => base64ToBytesPortable(n), 'invalid base64');
    typeErr(() => base64urlToBytes(n), 'invalid base64url');
    typeErr(() => hexToBytes(n), 'invalid hex');
  });

  it('hexToBytes refuses upper case, odd length and non-hex', () => {
    assert.deepEqual(hexToBytes('00ff'), Uint8Array.of(0, 255));
    for (const bad of ['zz', 'abc', 'AB', ' 00']) typeErr(() => hexToBytes(bad), 'invalid hex');
  });

  const codes = (schema: z.ZodType, v: unknown): string[] => {
    const r = schema.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.code}:${i.message}`);
  };
  it('base64Bytes: exact length, bounded before decoding, with its message', () => {
    const s = base64Bytes(4);
    ok(s, 'AAECAw==');
    const msg = 'custom:must be canonical base64 of exactly 4 bytes';
    assert.deepEqual(codes(s, 'AAEC'), [msg]);
    assert.deepEqual(codes(s, '!!!!'), [msg]);
    const over = codes(s, 'AAECAwQFBg==');
    assert.ok(over.some((c) => c.startsWith('too_big:')) && over.includes(msg), over.join());
  });

  it('base64Range: min to max bytes inclusive, bounded before decoding, with its message', () => {
    const s = base64Range(2, 4);
    for (const v of ['AAE=', 'AAEC', 'AAECAw==']) ok(s, v);
    const msg = 'custom:must be canonical base64 of 2 to 4 bytes';
    for (const v of ['AA==', 'AAECAwQ=']) assert.deepEqual(codes(s, v), [msg], v);
    const over = codes(s, 'AAECAwQFBgc=');
    assert.ok(over.some((c) => c.startsWith('too_big:')) && over.includes(msg), over.join());
  });

  it('base64urlBytes: exact length, bounded before decoding, with its message', () => {
    const s = base64urlBytes(4);
    ok(s, 'AAECAw');
    const msg = 'custom:must be base64url of exactly 4 bytes';
    assert.deepEqual(codes(s, 'AAEC'), [msg]);
    const over = codes(s, 'AAECAwQF');
    assert.ok(over.some((c) => c.startsWith('too_big:')) && over.includes(msg), over.join());
  });

  it('hexBytes: exact length of lower-case hex, with its message', () => {
    ok(hexBytes(2), 'abcd');
    assert.deepEqual(codes(hexBytes(2), 'ABCD'), ['invalid_format:must be lowercase hex']);
  });
});

describe('enclave-env.ts', () => {
  const shared = z.object(ENCLAVE_SHARED_ENV);
  const spawn = z.object(ENCLAVE_SPAWN_ENV);

  it('the defaults both processes fall back on', () => {
    const d = shared.parse({});
    assert.equal(d.AUTH_ISSUER, 'http://127.0.0.1:3000');
    assert.equal(d.AUTH_AUDIENCE, 'cloister');
    assert.equal(d.AUTH_SIWE_CHAIN_IDS, '1');
    assert.equal(d.MAIL_FROM, 'cloister@localhost');
    assert.equal(d.TSM_REPORT_ENTRY, 'cloister-enclave');
    assert.deepEqual(spawn.parse({}), {
      ENCLAVE_SOCKET_PATH: './data/enclave-external.sock',
      SIMULATED_PLATFORM_DIR: './data/simulated-platform',
      ENCLAVE_MAX_TTL_SECONDS: 604800,
      ENCLAVE_TEST_HOOKS: '0',
    });
    assert.equal(spawn.parse({ ENCLAVE_TEST_HOOKS: '1' }).ENCLAVE_TEST_HOOKS, '1');
    assert.equal(spawn.parse({ ENCLAVE_TEST_HOOKS: '0' }).ENCLAVE_TEST_HOOKS, '0');
    assert.ok(!spawn.safeParse({ ENCLAVE_TEST_HOOKS: '2' }).success);
  });

  it('an optional path is trimmed, and blank means unset', () => {
    for (const name of ['SEALING_KEY_FILE', 'EGRESS_CA_FILE'] as const) {
      assert.equal(shared.parse({ [name]: '  /k  ' })[name], '/k');
      assert.equal(shared.parse({ [name]: '   ' })[name], undefined);
      assert.equal(shared.parse({ [name]: '' })[name], undefined);
      assert.equal(shared.parse({})[name], undefined);
    }
    assert.equal(spawn.parse({ EGRESS_PROXY_SOCKET: ' /s ' }).EGRESS_PROXY_SOCKET, '/s');
  });

  it('the text-valued variables are anchored at both ends', () => {
    const accepts = (name: string, v: string): void =>
      assert.ok(shared.safeParse({ [name]: v }).success, `${name}=${v}`);
    const refuses = (name: string, v: string): void =>
      assert.ok(!shared.safeParse({ [name]: v }).success, `${name}=${v}`);
    accepts('AUTH_SIWE_DOMAIN', 'example.com:8443');
    for (const v of ['a/', '/a', 'a b']) refuses('AUTH_SIWE_DOMAIN', v);
    for (const v of ['1', '12', '1,137', '123456789012345']) accepts('AUTH_SIWE_CHAIN_IDS', v);
    for (const v of [',1', '1,', 'x1', '1x', '1234567890123456']) refuses('AUTH_SIWE_CHAIN_IDS', v);
    accepts('AUTH_RP_ID', 'a.example.com');
    for (const v of ['Xa.com', 'a.comX', 'a'.repeat(254)]) refuses('AUTH_RP_ID', v);
    for (const v of ['https://a', 'http://a', 'https://a,http://b', 'http://a,https://b,https://c'])
      accepts('AUTH_ORIGINS', v);
    for (const v of ['xhttps://a', 'https://a,', 'https://a,ftp://b', 'https://a b'])
      refuses('AUTH_ORIGINS', v);
    for (const v of ['smtp://h:25', 'smtps://u:p@h:465']) accepts('SMTP_URL', v);
    for (const v of ['xsmtp://h', 'smtp://h x', 'http://h']) refuses('SMTP_URL', v);
    accepts('MAIL_FROM', 'a@b');
    for (const v of ['<a@b', 'a@b>', 'a b@c']) refuses('MAIL_FROM', v);
    for (const v of ['_a', 'a.b-c', `a${'b'.repeat(63)}`]) accepts('TSM_REPORT_ENTRY', v);
    for (const v of ['.a', 'a!', `a${'b'.repeat(64)}`]) refuses('TSM_REPORT_ENTRY', v);
  });

  it('the SIWE domain, chain ids and WebAuthn relying party derived from the settings', () => {
    assert.deepEqual(siweChainIdsOf({ AUTH_SIWE_CHAIN_IDS: '1,137' }), [1, 137]);
    assert.equal(
      siweDomainOf({ AUTH_SIWE_DOMAIN: 'd.example', AUTH_ISSUER: 'https://i.example' }),
      'd.example',
    );
    assert.equal(siweDomainOf({ AUTH_ISSUER: 'https://i.example:8443/x' }), 'i.example:8443');
    assert.equal(siweDomainOf({ AUTH_ISSUER: 'not a url' }), 'not a url');
    assert.equal(siweDomainOf({ AUTH_ISSUER: 'mailto:x' }), 'mailto:x');
    assert.deepEqual(webauthnRpOf({ AUTH_ISSUER: 'https://i.example:8443/x' }), {
      rpId: 'i.example',
      origins: ['https://i.example:8443'],
    });
    assert.deepEqual(
      webauthnRpOf({
        AUTH_RP_ID: 'r.example',
        AUTH_ORIGINS: 'https://a,https://b',
        AUTH_ISSUER: 'https://i.example',
      }),
      { rpId: 'r.example', origins: ['https://a', 'https://b'] },
    );
    assert.deepEqual(webauthnRpOf({ AUTH_ISSUER: 'not a url' }), {
      rpId: 'localhost',
      origins: [],
    });
  });

  it('each platform without a hardware sealing key requires SEALING_KEY_FILE', () => {
    for (const platform of ['tdx', 'sev-snp', 'nitro'] as const) {
      const v = EnclaveSharedEnvSchema.parse({ TEE_PLATFORM: platform });
      assert.deepEqual(enclaveEnvIssues(v, { sealingKeyRequired: true }), [
        { variable: 'SEALING_KEY_FILE', message: `required when TEE_PLATFORM is ${platform}` },
      ]);
      assert.deepEqual(enclaveEnvIssues(v, { sealingKeyRequired: false }), []);
    }
    const sgx = EnclaveSharedEnvSchema.parse({ TEE_PLATFORM: 'sgx-gramine' });
    assert.deepEqual(enclaveEnvIssues(sgx, { sealingKeyRequired: true }), []);
  });
});
