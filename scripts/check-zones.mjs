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
  /^(?:node:)?(?:http|https|tls|net)$/,
];
// Sockets out of the enclave are opened only by its egress transport (issue 4), which may use
// these; node:net also serves the enclave's own RPC socket and the Nitro NSM helper socket.
const EGRESS_ONLY = /^(?:node:)?(http|https|tls|net)$/;
const NET_USERS = ['src/enclave/server.ts', 'src/enclave/platform/nsm.ts'];
function egressAllowed(file, spec) {
  const m = EGRESS_ONLY.exec(spec);
  const f = relative('.', file).split(sep).join('/');
  return (
    m !== null && (f.startsWith('src/enclave/egress/') || (m[1] === 'net' && NET_USERS.includes(f)))
  );
}

// The enclave touches the untrusted file system only through its platform folder (the TEE
// devices, sealed-key files, its socket file and the egress CA bundle: platform/files.ts).
const FS = /^(?:node:)?fs(?:\/promises)?$/;
function fsAllowed(file) {
  return relative('.', file).split(sep).join('/').startsWith('src/enclave/platform/');
}

// A cluster member verifies a joining enclave's evidence itself (docs/protocol/cluster.md,
// "Join"): the one enclave file that does may use the SDK's pure evidence verifiers, and only
// those (they are browser-safe: no node:, no sockets; collateral comes with the request).
const PEER_VERIFIER = 'src/enclave/cluster/peer-evidence.ts';
function peerVerification(file, targetPath) {
  return (
    relative('.', file).split(sep).join('/') === PEER_VERIFIER &&
    targetPath.startsWith('client/attestation/')
  );
}

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
      const targetPath = relative('src', resolve(dirname(file), spec))
        .split(sep)
        .join('/');
      const target = targetPath.split('/')[0];
      if (!ALLOWED[zone]?.includes(target) && !peerVerification(file, targetPath))
        problems.push(`${file}: imports ${spec} (zone ${target})`);
    } else if (
      NO_NODE.has(zone) &&
      (spec.startsWith('node:') || ['fs', 'path', 'crypto', 'buffer'].includes(spec))
    ) {
      problems.push(`${file}: ${zone} must not import ${spec}`);
    } else if (
      zone === 'enclave' &&
      ENCLAVE_FORBIDDEN.some((re) => re.test(spec)) &&
      !egressAllowed(file, spec)
    ) {
      problems.push(`${file}: enclave must not import ${spec}`);
    } else if (zone === 'enclave' && FS.test(spec) && !fsAllowed(file)) {
      problems.push(`${file}: node:fs only in src/enclave/platform/, not ${spec}`);
    }
  }
}

// The web app (web/src, built by Vite for the browser) is a client of the SDK: it may import
// src/client and src/protocol and its own files, never the host, enclave or CLI, nor node:.
function webFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? webFiles(p) : /\.tsx?$/.test(p) ? [p] : [];
  });
}
for (const file of webFiles('web/src')) {
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(
    /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s*\(?\s*['"]([^'"]+)['"]/g,
  )) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith('.')) {
      const target = relative('.', resolve(dirname(file), spec))
        .split(sep)
        .join('/');
      if (!['web/', 'src/client/', 'src/protocol/'].some((z) => target.startsWith(z)))
        problems.push(`${file}: imports ${spec} (outside web, client, protocol)`);
    } else if (spec.startsWith('node:') || ['fs', 'path', 'crypto', 'buffer'].includes(spec)) {
      problems.push(`${file}: the web app must not import ${spec}`);
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
    // As in build-enclave.mjs: a native addon, loaded at run time, not bundled.
    external: ['@node-rs/argon2'],
  });
  const edges = Object.entries(res.metafile.inputs).flatMap(([from, i]) =>
    i.imports.map((x) => [from, x.path]),
  );
  return { inputs: Object.keys(res.metafile.inputs), imports: edges.map(([, to]) => to), edges };
}
try {
  const enclave = await bundleInputs('src/enclave/main.ts', 'node');
  for (const p of enclave.inputs) {
    const pkg = p.replace(/^.*node_modules\//, '');
    if (ENCLAVE_FORBIDDEN.some((re) => re.test(pkg))) problems.push(`enclave bundle reaches ${p}`);
  }
  for (const [from, to] of enclave.edges) {
    const pkg = to.replace(/^.*node_modules\//, '');
    if (ENCLAVE_FORBIDDEN.some((re) => re.test(pkg)) && !egressAllowed(from, to)) {
      problems.push(`enclave bundle reaches ${to} (from ${from})`);
    }
    if (FS.test(to) && from.startsWith('src/enclave/') && !fsAllowed(from)) {
      problems.push(`enclave bundle: ${from} imports ${to} (only src/enclave/platform/ may)`);
    }
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
console.log('zone check passed: protocol, enclave, host, client, cli, web boundaries hold');
