/**
 * Cluster (issue 13): restore time (a new machine, empty data folder, same PostgreSQL: start →
 * awaiting_quorum → two operator shares → ready) and join time (start with CLUSTER_JOIN → the
 * member checks the quote and forwards the root → ready). Ceiling, same run: a plain restart
 * of a machine that keeps its data folder (local root: no quorum, no peer). Needs
 * BENCH_DATABASE_URL (two instances share one database); skipped otherwise.
 *
 * Shares are sealed in process as `cloister cluster provide-share` does (HPKE to the quote's
 * provisioning key), without the CLI's evidence check, which is measured by the attestation
 * benchmarks. One round each: every round is a full instance start. Then submit_key
 * throughput through one instance and through two (the joined one added), in the same run.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as age from 'age-encryption';
import { createSimulatedPlatform } from '../src/enclave/platform/simulated.js';
import { SHARE_PROVISION_INFO, manifestDigest } from '../src/protocol/cluster/cluster.js';
import { base64ToBytes } from '../src/protocol/encoding.js';
import { sealEnvelopeHpke } from '../src/protocol/envelope/hpke.js';
import { fmt, fmtRatio, printTable } from './lib/measure.js';
import { fastBodies } from './submit-key.js';
import { startBenchService, type BenchService } from './lib/service.js';

function machine() {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-bench-machine-'));
  createSimulatedPlatform({
    dir: join(dir, 'simulated-platform'),
    codePath: 'dist/enclave/enclave.mjs',
  });
  return {
    dir,
    vendorKey: readFileSync(join(dir, 'simulated-platform', 'vendor.pub'), 'utf8').trim(),
  };
}

async function untilReady(s: BenchService): Promise<void> {
  while (!s.service.enclave.isReady()) await new Promise((r) => setTimeout(r, 10));
}

const SUBMITS = Number(process.env.BENCH_CLUSTER_SUBMITS ?? 2000);
const CONCURRENCY = 32;

/** Sends every body, CONCURRENCY at a time, round robin over `targets`; 200s per second. */
async function submitRate(
  targets: BenchService[],
  bodies: string[],
): Promise<{ perSec: number; ok: number }> {
  let next = 0;
  let ok = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const i = next++;
        const res = await targets[i % targets.length]!.service.app.inject({
          method: 'POST',
          url: '/enclave/submit_key',
          headers: { 'content-type': 'application/json' },
          payload: bodies[i]!,
        });
        if (res.statusCode === 200) ok++;
      }
    }),
  );
  return { perSec: ok / ((performance.now() - t) / 1000), ok };
}

export async function runClusterBench(): Promise<{ name: string; [k: string]: unknown }> {
  if (!process.env.BENCH_DATABASE_URL) {
    console.log('  skipped: needs BENCH_DATABASE_URL (two instances, one PostgreSQL)');
    return { name: 'cluster', skipped: true };
  }
  const started: BenchService[] = [];
  try {
    const a = await startBenchService();
    started.push(a);
    const b = machine();
    const c = machine();
    const ids = await Promise.all([1, 2, 3].map(() => age.generateX25519Identity()));
    const operators = await Promise.all(
      ids.map(async (id, i) => ({
        name: `op${i + 1}`,
        recipient: await age.identityToRecipient(id),
      })),
    );
    const g = await a.service.cluster.genesis(a.service.enclave, a.service.log, {
      operators,
      threshold: 2,
      measurements: [a.measurement],
      platform: {
        name: 'simulated',
        allow_debug: true,
        simulated_vendor_keys: [a.vendorKey, b.vendorKey, c.vendorKey],
      },
      nonce: 'bench-genesis-nonce',
    });
    const shares = await Promise.all(
      g.shares.slice(0, 2).map(async (s, i) => {
        const d = new age.Decrypter();
        d.addIdentity(ids[i]!);
        return d.decrypt(age.armor.decode(s.file));
      }),
    );
    const databaseUrl = a.databaseUrl!;

    // Restore: a new machine on the same database, two shares.
    const t0 = performance.now();
    const rb = await startBenchService({}, { dataDir: b.dir, databaseUrl });
    started.push(rb);
    const tLocked = performance.now();
    for (const share of shares) {
      const q = await rb.service.cluster.quote();
      const sealed = await sealEnvelopeHpke(
        'HPKE-Base-X25519-SHA256-A256GCM',
        base64ToBytes(q.provisioning_key),
        share,
        { info: SHARE_PROVISION_INFO },
      );
      await rb.service.cluster.submitShare({
        manifest_digest: manifestDigest(g.manifest),
        provisioning_key: q.provisioning_key,
        enc: sealed.enc,
        ciphertext: sealed.ciphertext,
      });
    }
    const tShares = performance.now();
    await untilReady(rb);
    const restoreMs = performance.now() - t0;
    const afterSharesMs = performance.now() - tShares;

    // Join: a third machine asks A.
    await a.service.app.listen({ port: 0, host: '127.0.0.1' });
    const addr = a.service.app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const t1 = performance.now();
    const jc = await startBenchService({ CLUSTER_JOIN: url }, { dataDir: c.dir, databaseUrl });
    started.push(jc);
    await untilReady(jc);
    const joinMs = performance.now() - t1;

    // submit_key throughput, same run: through A alone, then spread over A and the joined C
    // (one log, one head lock, two enclaves). In process through app.inject, so the hosts
    // share this process's CPU; the enclaves are child processes.
    const att = (
      await a.service.app.inject({
        method: 'GET',
        url: '/attestation/quote?nonce=abcdefghijklmnop',
      })
    ).json() as { enclave_pubkey: string; key_id: string };
    const pub = base64ToBytes(att.enclave_pubkey);
    const oneRate = await submitRate([a], fastBodies(SUBMITS, 0, pub, att.key_id));
    const twoRate = await submitRate([a, jc], fastBodies(SUBMITS, SUBMITS, pub, att.key_id));

    // Ceiling: the restored machine restarts on its own local root.
    await rb.service.stop();
    started.splice(started.indexOf(rb), 1);
    const t2 = performance.now();
    const again = await startBenchService({}, { dataDir: b.dir, databaseUrl });
    started.push(again);
    await untilReady(again);
    const restartMs = performance.now() - t2;

    const rows = [
      { step: 'plain restart (local root), ceiling', ms: restartMs, ratio: '1.00x' },
      {
        step: 'restore: start → ready, 2 shares',
        ms: restoreMs,
        ratio: fmtRatio(restoreMs / restartMs),
      },
      { step: '  of which start → awaiting_quorum', ms: tLocked - t0, ratio: '' },
      { step: '  of which last share → ready', ms: afterSharesMs, ratio: '' },
      {
        step: 'join: start → ready (CLUSTER_JOIN)',
        ms: joinMs,
        ratio: fmtRatio(joinMs / restartMs),
      },
    ];
    printTable('cluster (ms, one round each; ratio to the plain restart)', rows);
    printTable(`cluster submit_key (${SUBMITS} requests, ${CONCURRENCY} in flight)`, [
      { instances: 'one (A)', ok_per_s: fmt(oneRate.perSec), ok: oneRate.ok, ratio: '1.00x' },
      {
        instances: 'two (A + C)',
        ok_per_s: fmt(twoRate.perSec),
        ok: twoRate.ok,
        ratio: fmtRatio(twoRate.perSec / oneRate.perSec),
      },
    ]);
    return {
      name: 'cluster',
      restoreMs,
      joinMs,
      restartMs,
      afterSharesMs,
      submitOnePerSec: oneRate.perSec,
      submitTwoPerSec: twoRate.perSec,
      valid: oneRate.ok === SUBMITS && twoRate.ok === SUBMITS,
    };
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  }
}
