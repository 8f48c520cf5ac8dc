#!/usr/bin/env node
// Proves the trust-zone boundaries (ARCHITECTURE.md), two ways:
// 1. every relative import in src/<zone> stays in the zones that zone may use;
// 2. the bundles of the enclave and the client contain no forbidden module, however indirectly
//    reached (the client is bundled for the browser, so any `node:` import fails the build).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { build } from 'esbuild';

const ALLOWED = {
  protocol: ['protocol'],
  enclave: ['enclave', 'protocol'],
  host: ['host', 'protocol'],
  client: ['client', 'protocol'],
  cli: ['cli', 'client', 'protocol'],
};
const NO_NODE = new Set(['protocol', 'client']);
const ENCLAVE_FORBIDDEN = [
  /^fastify/,
  /^@fastify\//,
  /^pg$/,
  /^pg-/,
  /^@electric-sql\//,
  /^pino/,
  /^ioredis/,
  /^undici/,
  /^node:(http|https|http2|tls|dgram|dns|child_process|worker_threads)$/,
];

const problems = [];
function files(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}
for (const file of files('src')) {
  const zone = relative('src', file).split(sep)[0];
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith('.')) {
      const target = relative('src', resolve(dirname(file), spec)).split(sep)[0];
      if (!ALLOWED[zone]?.includes(target))
        problems.push(`${file}: imports ${spec} (zone ${target})`);
    } else if (
      NO_NODE.has(zone) &&
      (spec.startsWith('node:') || ['fs', 'path', 'crypto', 'buffer'].includes(spec))
    ) {
      problems.push(`${file}: ${zone} must not import ${spec}`);
    } else if (zone === 'enclave' && ENCLAVE_FORBIDDEN.some((re) => re.test(spec))) {
      problems.push(`${file}: enclave must not import ${spec}`);
    }
  }
}

async function bundleInputs(entry, platform) {
  const res = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform,
    format: 'esm',
    metafile: true,
    logLevel: 'silent',
  });
  const imports = Object.values(res.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  return { inputs: Object.keys(res.metafile.inputs), imports };
}
try {
  const enclave = await bundleInputs('src/enclave/main.ts', 'node');
  for (const p of [...enclave.inputs, ...enclave.imports]) {
    const pkg = p.replace(/^.*node_modules\//, '');
    if (ENCLAVE_FORBIDDEN.some((re) => re.test(pkg))) problems.push(`enclave bundle reaches ${p}`);
  }
} catch (err) {
  problems.push(`enclave bundle failed: ${err.message}`);
}
try {
  await bundleInputs('src/client/index.ts', 'browser');
} catch (err) {
  problems.push(
    `client bundle for the browser failed (a node: import?): ${err.message.split('\n').slice(0, 3).join(' ')}`,
  );
}

if (problems.length > 0) {
  console.error(`zone check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('zone check passed: protocol, enclave, host, client, cli boundaries hold');
