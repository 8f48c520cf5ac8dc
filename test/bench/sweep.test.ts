/**
 * The submit-key bench's concurrency sweep (bench/lib/sweep.ts): it must stop where the rate
 * stops rising or requests are shed, and the measured run must use the best valid level.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  pickConcurrency,
  SWEEP_GAIN,
  SWEEP_LEVELS,
  sweepGoesOn,
  type SweepPoint,
} from '../../bench/lib/sweep.js';

const point = (connections: number, okPerSec: number, valid = true): SweepPoint => ({
  connections,
  requests: 1000,
  okPerSec,
  p50Ms: connections / okPerSec,
  valid,
});

test('the sweep starts at 32 connections and rises', () => {
  assert.deepEqual([...SWEEP_LEVELS], [32, 64, 128, 256]);
  assert.equal(SWEEP_GAIN, 1.05);
});

test('the sweep goes on while the rate rises by the gain, and stops otherwise', () => {
  assert.equal(sweepGoesOn([]), false);
  assert.equal(sweepGoesOn([point(32, 1000)]), true);
  assert.equal(sweepGoesOn([point(32, 1000), point(64, 1050)]), true);
  assert.equal(sweepGoesOn([point(32, 1000), point(64, 1049)]), false);
  // Against the best before it, not only the previous point.
  assert.equal(sweepGoesOn([point(32, 1000), point(64, 1300), point(128, 1320)]), false);
  assert.equal(sweepGoesOn([point(32, 1000), point(64, 900), point(128, 1060)]), true);
});

test('a level that shed a request ends the sweep and is never picked', () => {
  assert.equal(sweepGoesOn([point(32, 1000), point(64, 5000, false)]), false);
  assert.equal(sweepGoesOn([point(32, 1000, false)]), false);
  // An invalid level before does not count as the best.
  assert.equal(sweepGoesOn([point(32, 9000, false), point(64, 1000)]), true);
  assert.equal(pickConcurrency([point(32, 1000), point(64, 5000, false)]), 32);
});

test('the measured run uses the best valid level', () => {
  assert.equal(pickConcurrency([point(32, 1000), point(64, 1300), point(128, 1250)]), 64);
  assert.equal(pickConcurrency([point(32, 1000), point(64, 1300), point(128, 1400)]), 128);
  assert.equal(pickConcurrency([point(32, 1000)]), 32);
  assert.equal(pickConcurrency([]), 32);
  assert.equal(pickConcurrency([point(32, 1000, false)]), 32);
});

test("with no valid level, the first of the caller's levels (wallet-sign sweeps 8, 16, 32, 64)", () => {
  assert.equal(pickConcurrency([], [8, 16, 32, 64]), 8);
  assert.equal(pickConcurrency([point(8, 100, false)], [8, 16, 32, 64]), 8);
  assert.equal(pickConcurrency([point(8, 100), point(16, 130)], [8, 16, 32, 64]), 16);
});
