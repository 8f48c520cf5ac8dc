/**
 * The floors' arithmetic (bench/lib/floor.ts) and how the scoreboard quotes the token-issuance
 * and login floors (bench/lib/scoreboard.ts): the floor allows cores × 1000 / (sum of the
 * parts' CPU ms) requests/s, compared with the goal's ceiling; the verdict stays the measured
 * figure's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthBenchResult } from '../../bench/auth.js';
import { floorOf } from '../../bench/lib/floor.js';
import { floorNote, scoreboard } from '../../bench/lib/scoreboard.js';

test('a floor is the sum of its parts, and what the cores allow at that cost', () => {
  const f = floorOf({ client: 0.05, httpServer: 0.03, sign: 0.02 }, 2, 40_000);
  assert.ok(Math.abs(f.ms - 0.1) < 1e-12);
  assert.ok(Math.abs(f.perSec - 20_000) < 1e-6);
  assert.ok(Math.abs(f.ofCeiling - 0.5) < 1e-12);
  // Without a CPU-cost rate for the ceiling, the measured one stands for it.
  assert.equal(f.ofCeilingAtCpu, f.ofCeiling);
  assert.deepEqual(f.parts, { client: 0.05, httpServer: 0.03, sign: 0.02 });
});

test('a floor with one part on one core allows 1000 / its ms', () => {
  const f = floorOf({ argon2id: 8 }, 1, 100);
  assert.equal(f.ms, 8);
  assert.equal(f.perSec, 125);
  assert.equal(f.ofCeiling, 1.25);
});

test("a starved ceiling inflates the measured share, not the share at the ceiling's CPU", () => {
  // The raw verifies cost 8 ms of CPU on each of 2 cores (250/s) but got half the machine.
  const f = floorOf({ argon2id: 8, rest: 2 }, 2, 125, 250);
  assert.equal(f.perSec, 200);
  assert.equal(f.ofCeiling, 1.6);
  assert.equal(f.ofCeilingAtCpu, 0.8);
});

test("the floor's note quotes its rate and share, and says when the goal is out of reach", () => {
  assert.equal(
    floorNote({ perSec: 12_345, ofCeiling: 0.25, ofCeilingAtCpu: 0.2 }, 0.6),
    "the floor's parts alone allow 12,345/s = 25 % (20 % at the ceiling's own CPU): " +
      'the goal is out of reach here',
  );
  assert.equal(
    floorNote({ perSec: 230, ofCeiling: 0.98, ofCeilingAtCpu: 0.95 }, 0.9),
    "the floor's parts alone allow 230/s = 98 % (95 % at the ceiling's own CPU)",
  );
  // At exactly the goal's ratio the goal is reachable (just).
  assert.equal(
    floorNote({ perSec: 600, ofCeiling: 0.6, ofCeilingAtCpu: 0.6 }, 0.6),
    "the floor's parts alone allow 600/s = 60 % (60 % at the ceiling's own CPU)",
  );
  // A load-inflated measured share does not hide that the goal is out of reach.
  assert.match(
    floorNote({ perSec: 600, ofCeiling: 4.2, ofCeilingAtCpu: 0.5 }, 0.6),
    /out of reach here$/,
  );
});

function auth(over: Partial<AuthBenchResult>): AuthBenchResult {
  const floor = (ofCeiling: number, perSec: number) => ({
    parts: {} as never,
    ms: 1,
    perSec,
    ofCeiling,
    ofCeilingAtCpu: ofCeiling,
  });
  return {
    name: 'auth',
    argon2: { memoryKib: 19456, timeCost: 2, parallelism: 1, concurrency: 2 },
    loginsPerSec: 150,
    rawArgon2PerSec: 200,
    loginRatio: 0.75,
    issuePerSec: 12_000,
    rawSignPerSec: 40_000,
    issueRatio: 0.3,
    emptyRpcPerSec: 50_000,
    issueCpuUs: { host: 20, enclave: 100, enclaveMain: 60, enclavePool: 35, rawSign: 23 },
    issueCpuBoundRatio: 0.38,
    loginCpuMs: {
      host: 1,
      hostMain: 0.9,
      enclave: 10,
      enclaveMain: 0.8,
      enclavePool: 9.1,
      rawArgon2: 9,
      rawArgon2Pool: 9,
      cpus: 2,
    },
    loginCpuBoundRatio: 0.82,
    floor: { refresh: floor(0.25, 10_000), login: floor(0.97, 194) },
    sdkVerifyPerSec: 1,
    hostVerifyPerSec: 1,
    rawVerifyPerSec: 1,
    verifyRatio: 1,
    flood: {
      requests: 1000,
      statusCodes: { '200': 10, '503': 990 },
      enclavePeakRssMiB: 100,
      hostPeakRssMiB: 100,
      hostIdleRssMiB: 80,
      enclaveIdleRssMiB: 60,
      peakAboveIdleMiB: 50,
      seconds: 1,
    },
    ...over,
  };
}

test("the scoreboard's token and login rows quote their floors; the verdicts stay the figures'", () => {
  const rows = scoreboard([auth({})]);
  const issue = rows.find((r) => r.figure === 'token issuance (refresh/s)')!;
  const login = rows.find((r) => r.figure === 'logins/s')!;
  assert.match(
    issue.ceiling,
    /the floor's parts alone allow 10,000\/s = 25 % \(25 % at the ceiling's own CPU\): the goal is out of reach here\)$/,
  );
  assert.equal(issue.verdict, 'short');
  assert.match(
    login.ceiling,
    /the floor's parts alone allow 194\/s = 97 % \(97 % at the ceiling's own CPU\)\)$/,
  );
  assert.equal(login.verdict, 'short');

  // A figure at its goal meets it whatever the floor says (the floor only explains).
  const met = scoreboard([auth({ issueRatio: 0.61, loginRatio: 0.91 })]);
  assert.equal(met.find((r) => r.figure === 'token issuance (refresh/s)')!.verdict, 'meets');
  assert.equal(met.find((r) => r.figure === 'logins/s')!.verdict, 'meets');
});
