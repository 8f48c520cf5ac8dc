/**
 * The scoreboard `npm run bench` ends with (issue 17): each figure next to the ceiling measured
 * in the same run, the goal from the issue's table, and "meets" or "short" ("not run" when the
 * benchmark was not selected or failed). Informative only: nothing fails on speed.
 */
import type { AggregatesBenchResult } from '../aggregates.js';
import type { AuthBenchResult } from '../auth.js';
import type { IdleMemoryResult } from '../idle-memory.js';
import type { LogAppendResult } from '../log-append.js';
import type { SubmitKeyResult } from '../submit-key.js';
import type { WalletSignBenchResult } from '../wallet-sign.js';
import { fmt, fmtRatio, printTable } from './measure.js';

export interface Score {
  figure: string;
  value: string;
  ceiling: string;
  ratio: string;
  goal: string;
  verdict: 'meets' | 'short' | 'not run';
}

const verdict = (ok: boolean): Score['verdict'] => (ok ? 'meets' : 'short');

/**
 * What a floor (lib/floor.ts) allows, for a row's ceiling text: its rate, its share of the
 * ceiling as measured and at the ceiling's own CPU cost and, when the latter (which the
 * machine's load does not inflate) is below the goal's ratio `min`, that the goal is out of
 * reach here for any implementation. The verdict stays the measured figure's.
 */
export function floorNote(
  floor: { perSec: number; ofCeiling: number; ofCeilingAtCpu: number },
  min: number,
): string {
  const allows =
    `the floor's parts alone allow ${fmt(floor.perSec)}/s = ${fmtRatio(floor.ofCeiling)} ` +
    `(${fmtRatio(floor.ofCeilingAtCpu)} at the ceiling's own CPU)`;
  return floor.ofCeilingAtCpu < min ? `${allows}: the goal is out of reach here` : allows;
}

function find<T extends { name: string }>(
  results: readonly unknown[],
  name: string,
): T | undefined {
  return results.find(
    (r): r is T =>
      typeof r === 'object' &&
      r !== null &&
      (r as { name?: string }).name === name &&
      !('error' in r),
  );
}

const notRun = (figure: string, goal: string): Score => ({
  figure,
  value: '—',
  ceiling: '—',
  ratio: '—',
  goal,
  verdict: 'not run',
});

export function scoreboard(results: readonly unknown[]): Score[] {
  const out: Score[] = [];

  const sk = find<SubmitKeyResult>(results, 'submit-key');
  if (!sk)
    out.push(notRun('submit_key end to end', 'PostgreSQL >= 50 % of ceiling; PGlite >= 1,250/s'));
  else if (sk.engine === 'postgres') {
    out.push({
      figure: `submit_key end to end, PostgreSQL (200/s; ${sk.connections} conn., p50 ${fmt(sk.p50Ms)} ms)`,
      value: fmt(sk.okPerSec),
      ceiling: `${fmt(sk.dbCeiling.perSec)} (multi-row INSERTs, durable, 8 conn.; CPU per submission allows ${fmt(sk.cpuCeilingPerSec)}/s = ${fmtRatio(sk.cpuCeilingPerSec / sk.dbCeiling.perSec)}, ${sk.cpuBound}; the floor's parts alone allow ${fmtRatio(sk.floor.ofCeiling)})`,
      ratio: fmtRatio(sk.dbRatio),
      goal: '>= 50 % of the ceiling',
      verdict: verdict(sk.valid && sk.dbRatio >= 0.5),
    });
  } else {
    out.push({
      figure: `submit_key end to end, PGlite (200/s; ${sk.connections} conn., p50 ${fmt(sk.p50Ms)} ms)`,
      value: fmt(sk.okPerSec),
      ceiling: `${fmt(sk.dbCeiling.perSec)} (single-row durable INSERTs; CPU per submission allows ${fmt(sk.cpuCeilingPerSec)}/s, ${sk.cpuBound})`,
      ratio: fmtRatio(sk.dbRatio),
      goal: '>= 1,250/s (half of ~2,500/s idle)',
      verdict: verdict(sk.valid && sk.okPerSec >= 1250),
    });
  }

  const la = find<LogAppendResult>(results, 'log-append');
  if (!la) out.push(notRun('log appends (entries/s)', '>= 30,000 entries/s'));
  else {
    out.push({
      figure: `log appends, ${la.engine} (entries/s)`,
      value: fmt(la.entriesPerSec),
      ceiling: `${fmt(la.leafHashPerSec)} leaf hashes/s`,
      ratio: fmtRatio(la.ratioToLeafHash),
      goal: '>= 30,000 entries/s',
      verdict: verdict(la.failures === 0 && la.entriesPerSec >= 30_000),
    });
    // What the goal is up against: a batch's enclave append (its prepare is made before the
    // lock) and its store run one after the other under the log head lock; this is their rate
    // with nothing else running.
    out.push({
      figure: `log appends: head-locked part alone, ${la.engine}`,
      value: fmt(la.serialCeilingPerSec),
      ceiling: `database ${fmt(la.dbLeavesPerSec)} + enclave append ${fmt(la.enclaveAppendPerSec)}/s in sequence`,
      ratio: fmtRatio(la.ratioToSerialCeiling),
      goal: '>= 30,000 entries/s reachable at all',
      verdict: verdict(la.serialCeilingPerSec >= 30_000),
    });
    // And the CPU the run spent per entry in the host, the enclave and PostgreSQL, against the
    // machine's cores: no overlap of batches gets past it.
    out.push({
      figure: `log appends: CPU per entry vs cores, ${la.engine}`,
      value: fmt(la.cpu.ceilingPerSec),
      ceiling: `${la.cpu.cores} cores / ${fmt(la.cpu.totalUs)} µs per entry`,
      ratio: fmtRatio(la.entriesPerSec / la.cpu.ceilingPerSec),
      goal: '>= 30,000 entries/s reachable at all',
      verdict: verdict(la.cpu.ceilingPerSec >= 30_000),
    });
  }

  const ag = find<AggregatesBenchResult>(results, 'aggregates');
  if (!ag) out.push(notRun('aggregates, 10^6 fills', '<= 5x the plain loop; first <= 2x steady'));
  else
    for (const g of ag.goals)
      out.push({
        figure: g.figure,
        value: fmt(g.value),
        ceiling: fmt(g.ceiling),
        ratio: `${fmt(g.value / g.ceiling)}x`,
        goal: g.goal,
        verdict: g.verdict,
      });

  const au = find<AuthBenchResult>(results, 'auth');
  if (!au) {
    out.push(notRun('token issuance (refresh/s)', '>= 60 % of raw ES256 sign'));
    out.push(notRun('logins/s', '>= 90 % of raw Argon2id verify'));
    out.push(notRun('1,000 concurrent logins', 'no request lost'));
    out.push(notRun('1,000 concurrent logins: peak RSS above idle', '<= 150 MiB'));
  } else {
    const share = (figure: string, value: number, ceiling: string, ratio: number, min: number) =>
      out.push({
        figure,
        value: fmt(value),
        ceiling,
        ratio: fmtRatio(ratio),
        goal: `>= ${min * 100} %`,
        verdict: verdict(ratio >= min),
      });
    share(
      'token issuance (refresh/s)',
      au.issuePerSec,
      `${fmt(au.rawSignPerSec)} raw ES256 sign/s (CPU per refresh allows ${fmtRatio(
        au.issueCpuBoundRatio,
      )}; empty enclave call ${fmt(au.emptyRpcPerSec)}/s; ${floorNote(au.floor.refresh, 0.6)})`,
      au.issueRatio,
      0.6,
    );
    share(
      'logins/s',
      au.loginsPerSec,
      `${fmt(au.rawArgon2PerSec)} raw Argon2id verify/s (CPU per login allows ${fmtRatio(
        au.loginCpuBoundRatio,
      )}; ${floorNote(au.floor.login, 0.9)})`,
      au.loginRatio,
      0.9,
    );
    const answered = Object.entries(au.flood.statusCodes)
      .filter(([code]) => code === '200' || code === '503')
      .reduce((a, [, n]) => a + n, 0);
    out.push({
      figure: `${fmt(au.flood.requests)} concurrent logins (answered 200 or 503)`,
      value: fmt(answered),
      ceiling: fmt(au.flood.requests),
      ratio: fmtRatio(answered / au.flood.requests),
      goal: 'no request lost',
      verdict: verdict(answered === au.flood.requests),
    });
    out.push({
      figure: `${fmt(au.flood.requests)} concurrent logins: peak RSS above idle (MiB, host + enclave)`,
      value: fmt(au.flood.peakAboveIdleMiB),
      ceiling: `idle ${fmt(au.flood.hostIdleRssMiB + au.flood.enclaveIdleRssMiB)} MiB`,
      ratio: '—',
      goal: '<= 150 MiB',
      verdict: verdict(au.flood.peakAboveIdleMiB <= 150),
    });
  }

  const im = find<IdleMemoryResult>(results, 'idle-memory');
  if (!im) out.push(notRun('idle memory, default run (PGlite)', '<= 300 MiB host + enclave'));
  else
    for (const r of im.runs)
      out.push({
        figure: `idle memory, default run (PGlite), ${r.start} start (MiB)`,
        value: fmt(r.totalMiB),
        ceiling: `host ${fmt(r.hostRssMiB)} + enclave ${fmt(r.enclaveRssMiB)}`,
        ratio: '—',
        goal: '<= 300 MiB host + enclave',
        verdict: verdict(r.totalMiB <= 300),
      });

  const ws = find<WalletSignBenchResult>(results, 'wallet-sign');
  if (!ws) out.push(notRun('wallet signing (eth/s)', '>= 50 % of raw sign + share combination'));
  else
    out.push({
      figure: 'wallet signing, eth_personal_sign (/s)',
      value: fmt(ws.serviceEthPerSec),
      ceiling: `${fmt(ws.rawCombineDeriveSignPerSec)} raw combine + derive + sign/s`,
      ratio: fmtRatio(ws.ethRatioToRawCombined),
      goal: '>= 50 %',
      verdict: verdict(ws.ethRatioToRawCombined >= 0.5),
    });

  return out;
}

export function printScoreboard(scores: readonly Score[]): void {
  printTable(
    'scoreboard (issue 17 goals; ratios against ceilings measured in this run; nothing fails on speed)',
    scores.map((s) => ({ ...s })),
  );
}
