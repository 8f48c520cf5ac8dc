#!/usr/bin/env node
// Builds the enclave into one deterministic ESM bundle (dist/enclave/enclave.mjs) and prints its
// measurement, SHA-384 of the bundle bytes: the `image_hash` the simulated platform reports.
// Same source + same lockfile + same esbuild version => same bytes => same measurement.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// --outdir DIR builds elsewhere (the determinism test builds twice and compares).
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 ? process.argv[at + 1] : 'dist/enclave';
const outfile = `${outdir}/enclave.mjs`;
// The genesis policy is compiled in, so it is part of the measurement (src/enclave/cluster/
// genesis-policy.ts, docs/operations/cluster.md): `convert` (default) or `fresh-only`.
const genesisPolicy = process.env.CLOISTER_GENESIS_POLICY || 'convert';
if (!['convert', 'fresh-only'].includes(genesisPolicy)) {
  console.error(`CLOISTER_GENESIS_POLICY must be convert or fresh-only, not ${genesisPolicy}`);
  process.exit(2);
}
mkdirSync(outdir, { recursive: true });
const result = await build({
  entryPoints: ['src/enclave/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: false,
  sourcemap: false,
  legalComments: 'eof',
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
  // A native addon cannot be bundled: it loads from node_modules next to the bundle and is
  // outside the measurement; its SHA-384 is recorded below (docs/protocol/auth.md, SECURITY.md).
  external: ['@node-rs/argon2'],
  define: { CLOISTER_GENESIS_POLICY: JSON.stringify(genesisPolicy) },
});
const measurement = createHash('sha384').update(readFileSync(outfile)).digest('hex');
const inputs = Object.keys(result.metafile.inputs).sort();
const addons = nativeAddons();
writeFileSync(
  `${outdir}/measurement.json`,
  `${JSON.stringify(
    { measurement, bundle: outfile, genesis_policy: genesisPolicy, inputs, native_addons: addons },
    null,
    2,
  )}\n`,
);

/** The native addons the bundle loads, with their SHA-384: outside the measurement, recorded. */
function nativeAddons() {
  const out = {};
  for (const dir of ['node_modules/@node-rs']) {
    let names = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      for (const file of readdirSync(`${dir}/${name}`)
        .filter((f) => f.endsWith('.node'))
        .sort()) {
        const path = `${dir}/${name}/${file}`;
        out[path] = createHash('sha384').update(readFileSync(path)).digest('hex');
      }
    }
  }
  return out;
}
if (process.argv.includes('--json'))
  console.log(JSON.stringify({ measurement, genesis_policy: genesisPolicy }));
else
  console.log(
    `enclave bundle ${outfile}\nmeasurement (SHA-384) ${measurement}\ngenesis policy ${genesisPolicy}`,
  );
