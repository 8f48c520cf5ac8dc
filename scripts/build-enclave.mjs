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
});
const measurement = createHash('sha384').update(readFileSync(outfile)).digest('hex');
const inputs = Object.keys(result.metafile.inputs).sort();
const addons = nativeAddons();
writeFileSync(
  `${outdir}/measurement.json`,
  `${JSON.stringify({ measurement, bundle: outfile, inputs, native_addons: addons }, null, 2)}\n`,
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
if (process.argv.includes('--json')) console.log(JSON.stringify({ measurement }));
else console.log(`enclave bundle ${outfile}\nmeasurement (SHA-384) ${measurement}`);
