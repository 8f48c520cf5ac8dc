/**
 * `npm run bench [-- name ...]`: runs the benchmarks in sequence (all, or the ones named) and
 * prints each one's figures and its ratio to the raw-primitive ceiling measured in the same
 * run. BENCH_QUICK=1 shrinks sizes and durations for a smoke check (< 1 minute in all).
 * BENCH_JSON=path also writes every result object as JSON. Method: bench/README.md.
 */
import { writeFileSync } from 'node:fs';
import { runAggregatesBench } from './aggregates.js';
import { runAuthBench } from './auth.js';
import { runClusterBench } from './cluster.js';
import { runIdleMemory } from './idle-memory.js';
import { runLogAppend } from './log-append.js';
import { runLogProofs } from './log-proofs.js';
import { machine, printTable } from './lib/measure.js';
import { printScoreboard, scoreboard } from './lib/scoreboard.js';
import { startBenchService, type BenchService } from './lib/service.js';
import { runRpc } from './rpc.js';
import { runSubmitKey } from './submit-key.js';
import { runWalletSignBench } from './wallet-sign.js';

const BENCHES: Record<string, (shared?: BenchService) => Promise<{ name: string }>> = {
  'submit-key': runSubmitKey,
  rpc: runRpc,
  'log-append': runLogAppend,
  'log-proofs': runLogProofs,
  aggregates: runAggregatesBench,
  auth: runAuthBench,
  'wallet-sign': runWalletSignBench,
  cluster: runClusterBench,
  'idle-memory': runIdleMemory,
};

const SERVICE_BENCHES = new Set(['submit-key', 'rpc', 'log-append']);

const args = process.argv.slice(2).filter((a) => a !== '--');
const unknown = args.filter((a) => !Object.hasOwn(BENCHES, a));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`,
  );
  process.exit(2);
}
const selected = args.length > 0 ? args : Object.keys(BENCHES);

const info = machine();
printTable('machine', [info]);
const results: unknown[] = [];
const started = performance.now();
// One service for every benchmark that needs one (starting PGlite alone takes seconds); each
// benchmark measures deltas, so what an earlier one left in the database does not count.
let shared: BenchService | undefined;
try {
  for (const name of selected) {
    const t0 = performance.now();
    console.log(`\n=== ${name} ===`);
    try {
      if (!shared && SERVICE_BENCHES.has(name)) {
        shared = await startBenchService();
        console.log(
          `  service started in ${((performance.now() - t0) / 1000).toFixed(1)} s (${shared.engine})`,
        );
      }
      results.push(await BENCHES[name]!(shared));
    } catch (err) {
      process.exitCode = 1;
      console.error(`${name} failed:`, err);
      results.push({ name, error: String(err) });
    }
    console.log(`  (${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
} finally {
  await shared?.stop();
}
console.log(`\nall done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
const scores = scoreboard(results);
console.log('');
printScoreboard(scores);

if (process.env.BENCH_JSON) {
  writeFileSync(
    process.env.BENCH_JSON,
    `${JSON.stringify({ machine: info, scoreboard: scores, results }, null, 2)}\n`,
  );
  console.log(`results written to ${process.env.BENCH_JSON}`);
}

// Every benchmark stops what it started, so the process should now exit by itself. If some
// handle was left open, say which and exit anyway rather than hang (the timer itself does not
// keep the process alive).
setTimeout(() => {
  console.error(
    'bench: still running 10 s after the end; open handles:',
    process.getActiveResourcesInfo(),
  );
  process.exit(process.exitCode ?? 1);
}, 10_000).unref();
