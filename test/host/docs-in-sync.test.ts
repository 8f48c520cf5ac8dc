/**
 * The docs say what the code does, and fail here when the two drift. One mechanism: each
 * documented registry is a markdown table whose first column names the entries (in backticks),
 * compared with the code's own table:
 *
 * - docs/errors.md: every HTTP error code once, with its status;
 * - docs/ops-events.md: every ops event type once;
 * - docs/protocol/enclave-rpc.md: every RPC method once (with its phases, and whether it is
 *   detached), every RPC error code once (with the HTTP status the host makes of it);
 * - docs/protocol/transparency-log.md: every log entry type once;
 * - docs/reference/configuration.md: every environment variable the code reads (the host's and
 *   the enclave's schemas, and every `process.env.<name>` or `CLOISTER_*` name in the sources),
 *   each with its schema's default; and a default named in prose ("`X` (default 5", "`X` = 300")
 *   anywhere in the docs is that default too;
 * - docs/reference/dependencies.md: every runtime dependency of package.json, and nothing else;
 * - docs/guides/development.md: every npm script of package.json;
 * - every `npm run -s cli -- …` in a doc's code block: a `cloister` command, with its options.
 *
 * And the prose stays true: no doc promises a feature for later ("not yet here", "coming
 * soon", …), every relative link and anchor resolves, every doc is reachable from the README,
 * the README stays an index (at most 200 lines), and every test a doc cites exists (and, where
 * a doc names the test, `test/x.test.ts`, "name", holds a test of that name).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { CONFIG_SHAPE, CONFIG_VARIABLES } from '../../src/host/config.js';
import { fromRpcCode, HTTP_ERRORS, HTTP_ERROR_CODES } from '../../src/host/errors.js';
import { OPS_EVENT_TYPES } from '../../src/host/ops-events.js';
import { ENCLAVE_SHARED_VARIABLES, ENCLAVE_SPAWN_ENV } from '../../src/protocol/enclave-env.js';
import { LOG_ENTRY_TYPES } from '../../src/protocol/log/entry.js';
import { RPC_ERROR_CODES } from '../../src/protocol/rpc/errors.js';
import { METHODS, PHASES, type MethodName } from '../../src/protocol/rpc/methods.js';

/** Every file under `dir` (relative to the repository root) whose name ends with `ext`. */
function filesUnder(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => f.endsWith(ext) && statSync(f).isFile())
    .sort();
}

const MARKDOWN = [
  'README.md',
  'ARCHITECTURE.md',
  'SECURITY.md',
  'bench/README.md',
  ...filesUnder('docs', '.md'),
];

/** The lines of a markdown file that are not inside a fenced code block. */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** A markdown table's rows as cells (header and separator rows left out). */
interface Row {
  cells: string[];
  /** Backticked words of the first cell. */
  names: string[];
}

function rowsOf(lines: string[]): Row[] {
  return lines
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .map((l) => {
      const cells = l
        .slice(1, l.trimEnd().endsWith('|') ? l.trimEnd().length - 1 : undefined)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim());
      const names = [...(cells[0] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      return { cells, names };
    })
    .filter((r) => r.names.length > 0);
}

/** The rows of the first table after the heading `heading` (exact heading line). */
function tableAfter(path: string, heading: string): Row[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const at = lines.indexOf(heading);
  assert.ok(at >= 0, `${path} has no heading "${heading}"`);
  const start = lines.findIndex((l, i) => i > at && l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  return rowsOf(lines.slice(start, end === -1 ? undefined : end));
}

/** The first backticked name of every table row of a file. */
function firstColumnCodes(path: string): string[] {
  return rowsOf(proseLines(readFileSync(path, 'utf8'))).map((r) => r.names[0]!);
}

function sorted(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort();
}

/** Environment variables named in the sources: `[process.]env.<name>`, `env['<name>']`, `CLOISTER_*`. */
function envVariablesInSources(): string[] {
  const found = new Set<string>();
  for (const dir of ['src', 'examples', 'devtools', 'scripts', 'test']) {
    for (const file of [...filesUnder(dir, '.ts'), ...filesUnder(dir, '.mjs')]) {
      const text = readFileSync(file, 'utf8');
      // `process.env.<name>`, and `env.<name>` of an environment passed in (`configDir(env)`).
      for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|\[\s*'([A-Z][A-Z0-9_]*)'\s*\])/g))
        found.add((m[1] ?? m[2])!);
      if (file.startsWith('src'))
        for (const m of text.matchAll(/\bCLOISTER_[A-Z0-9_]+\b/g)) found.add(m[0]);
    }
  }
  return [...found];
}

describe('docs match code', () => {
  it('docs/errors.md lists every HTTP error code once, with its status', () => {
    const documented = firstColumnCodes('docs/errors.md');
    assert.deepEqual([...documented].sort(), [...HTTP_ERROR_CODES].sort());
    const text = readFileSync('docs/errors.md', 'utf8');
    for (const code of HTTP_ERROR_CODES) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${code}\``))!;
      assert.ok(
        row.includes(String(HTTP_ERRORS[code][0])),
        `${code}: status ${HTTP_ERRORS[code][0]} not in its row`,
      );
    }
  });

  it('docs/ops-events.md lists every ops event type once', () => {
    assert.deepEqual(
      [...firstColumnCodes('docs/ops-events.md')].sort(),
      [...OPS_EVENT_TYPES].sort(),
    );
  });

  it("docs/protocol/enclave-rpc.md's method table lists every RPC method once, with its phases", () => {
    const rows = tableAfter('docs/protocol/enclave-rpc.md', '## Methods');
    const names = rows.map((r) => r.names[0]!);
    assert.deepEqual([...names].sort(), Object.keys(METHODS).sort(), 'methods in the table');
    assert.equal(new Set(names).size, names.length, 'a method is listed twice');
    for (const row of rows) {
      const name = row.names[0] as MethodName;
      const def: { phases: readonly string[]; detached?: boolean } = METHODS[name];
      const phases = def.phases.length === PHASES.length ? ['all'] : [...def.phases].sort();
      const cell = row.cells[1]!.split(/,\s*/).sort();
      assert.deepEqual(cell, phases, `${name}: phases`);
      assert.equal(
        row.cells[0]!.includes('(detached)'),
        def.detached === true,
        `${name}: detached`,
      );
    }
  });

  it("docs/protocol/enclave-rpc.md's error table lists every RPC error code once, with its HTTP mapping", () => {
    const rows = tableAfter('docs/protocol/enclave-rpc.md', '## Error codes');
    const codes = rows.map((r) => r.names[0]!);
    assert.deepEqual([...codes].sort(), [...RPC_ERROR_CODES].sort());
    assert.equal(new Set(codes).size, codes.length, 'a code is listed twice');
    for (const row of rows) {
      const code = row.names[0]!;
      const host = fromRpcCode(code);
      const status = HTTP_ERRORS[host.code][0];
      const expected = host.code === code ? `${status}` : `${status} \`${host.code}\``;
      assert.equal(row.cells[2], expected, `${code}: HTTP column`);
    }
  });

  it("docs/protocol/transparency-log.md's type table lists every log entry type once", () => {
    const types = tableAfter('docs/protocol/transparency-log.md', '### What is logged')
      .map((r) => r.names[0]!)
      .filter((t) => t !== 'type');
    assert.deepEqual(sorted(types), [...LOG_ENTRY_TYPES].sort());
  });

  it('docs/reference/configuration.md lists every environment variable the code reads', () => {
    const documented = new Set(
      rowsOf(proseLines(readFileSync('docs/reference/configuration.md', 'utf8'))).flatMap(
        (r) => r.names,
      ),
    );
    const read = sorted([
      ...CONFIG_VARIABLES,
      ...ENCLAVE_SHARED_VARIABLES,
      ...Object.keys(ENCLAVE_SPAWN_ENV),
      ...envVariablesInSources(),
    ]);
    assert.ok(read.length > 60, 'the scan finds the variables');
    const missing = read.filter((v) => !documented.has(v));
    assert.deepEqual(
      missing,
      [],
      'variables missing from a table of docs/reference/configuration.md',
    );
  });

  it('every default the docs give a variable is its schema default, and shared ones cross', () => {
    const schemas: Record<string, z.ZodType> = { ...CONFIG_SHAPE, ...ENCLAVE_SPAWN_ENV };
    const defaults = new Map<string, string>();
    for (const [name, schema] of Object.entries(schemas)) {
      // A default computed from other variables (PORT, AUTH_ISSUER) is no schema default.
      const parsed = schema.safeParse(undefined);
      if (parsed.success && parsed.data !== undefined) defaults.set(name, String(parsed.data));
    }
    assert.ok(defaults.size > 60, 'the schemas were read');
    const wrong: string[] = [];
    // The default column of configuration.md's tables.
    for (const row of rowsOf(proseLines(readFileSync('docs/reference/configuration.md', 'utf8'))))
      for (const name of row.names) {
        const d = defaults.get(name);
        if (d !== undefined && !row.cells[1]!.includes(`\`${d}\``))
          wrong.push(`configuration.md ${name}: "${row.cells[1]}", schema default ${d}`);
      }
    // A default in prose: "`X` (default 10 000" or "`X` = 300".
    for (const file of MARKDOWN)
      for (const line of proseLines(readFileSync(file, 'utf8')))
        for (const m of line.matchAll(/`([A-Z][A-Z0-9_]+)` (?:\(default |= )(\d[\d ]*\d|\d)\b/g)) {
          const d = defaults.get(m[1]!);
          if (d !== undefined && m[2]!.replace(/ /g, '') !== d)
            wrong.push(`${file} ${m[1]}: "${m[0]}", schema default ${d}`);
        }
    // The host passes every shared variable to the enclave it spawns (serializeEnclaveEnv).
    const shared = new Set<string>(ENCLAVE_SHARED_VARIABLES);
    for (const file of MARKDOWN)
      for (const line of proseLines(readFileSync(file, 'utf8')))
        for (const m of line.matchAll(
          /`([A-Z][A-Z0-9_]+)`[^`]{0,40}\b(?:does not pass|not passed)\b/g,
        ))
          if (shared.has(m[1]!)) wrong.push(`${file} ${m[1]}: "${m[0]}", the host passes it`);
    assert.deepEqual(wrong, []);
  });

  it('docs/reference/dependencies.md lists every runtime dependency, and nothing else', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const rows = tableAfter('docs/reference/dependencies.md', '# Dependencies');
    for (const row of rows) assert.ok(row.cells[1]!.length > 10, `${row.names}: what it is for`);
    assert.deepEqual(sorted(rows.flatMap((r) => r.names)), Object.keys(pkg.dependencies).sort());
  });

  it("docs/guides/development.md's script table names every npm script", () => {
    const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>;
    };
    const named = new Set(
      tableAfter('docs/guides/development.md', '## npm scripts')
        .flatMap((r) => r.names)
        .map((n) => /^npm (?:run )?([\w:-]+)/.exec(n)?.[1]),
    );
    // `pre<script>` hooks run with their script and are not run on their own.
    const own = Object.keys(scripts).filter((n) => !(n.startsWith('pre') && n.slice(3) in scripts));
    assert.deepEqual(
      own.filter((n) => !named.has(n)),
      [],
      'scripts missing from the table',
    );
  });

  it('every `npm run -s cli -- …` a doc shows names a command and only options it has', () => {
    const program = buildProgram();
    const wrong: string[] = [];
    let seen = 0;
    for (const file of MARKDOWN) {
      // Code blocks only, with `\`-continued lines joined.
      const text = readFileSync(file, 'utf8').replace(/\\\n\s*/g, ' ');
      for (const block of text.match(/```[a-z]*\n[\s\S]*?```/g) ?? [])
        for (const m of block.matchAll(/npm run -s cli -- ([^\n|&#;)]+)/g)) {
          seen++;
          const words = m[1]!.trim().split(/\s+/);
          let cmd: Command = program;
          const path: string[] = [];
          for (const w of words) {
            const sub = cmd.commands.find((c) => c.name() === w);
            if (!sub) break;
            cmd = sub;
            path.push(w);
          }
          if (path.length === 0) {
            wrong.push(`${file}: cloister ${words[0]}: no such command`);
            continue;
          }
          const known = new Set(cmd.options.map((o) => o.long));
          for (const w of words)
            if (w.startsWith('--') && !known.has(w.split('=')[0]!) && w !== '--help')
              wrong.push(`${file}: cloister ${path.join(' ')} has no option ${w}`);
        }
    }
    assert.ok(seen > 20, 'the docs show CLI commands');
    assert.deepEqual(wrong, []);
  });

  it("ARCHITECTURE.md's data table names every table the migrations create, and the last one", () => {
    const dir = 'src/host/db/migrations';
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const tables = files.flatMap((f) =>
      [
        ...readFileSync(join(dir, f), 'utf8').matchAll(/^CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gm),
      ].map((m) => m[1]!),
    );
    assert.ok(tables.length > 20, 'the migrations were read');
    const arch = readFileSync('ARCHITECTURE.md', 'utf8');
    const data = arch.slice(arch.indexOf('## Data'), arch.indexOf('## Wire formats'));
    const named = new Set(
      [...data.matchAll(/^\| ([^|]+)\|/gm)].flatMap((m) => m[1]!.match(/`\w+`/g) ?? []),
    );
    assert.deepEqual(
      tables.filter((t) => !named.has(`\`${t}\``)),
      [],
      'tables missing from ARCHITECTURE.md "## Data"',
    );
    assert.ok(
      data.includes(`\`${files.at(-1)}\``),
      `ARCHITECTURE.md names ${files.at(-1)} as the last migration`,
    );
  });
});

describe('docs stay true', () => {
  /** Promises of later work: they go stale the day the work lands. State what exists. */
  const STALE = [
    /not yet (here|implemented|available|supported|wired)/i,
    /\bimplemented yet\b/i,
    /coming soon/i,
    /\b(in )?(a |the )?later (issue|helper|release)s?\b/i,
    /\b(until|once|when) [\w` -]{1,40} lands\b/i,
    /\bwill (soon|eventually) be\b/i,
    /\bTODO\b/,
  ];

  it('no doc promises a feature for later', () => {
    const hits: string[] = [];
    for (const file of MARKDOWN)
      proseLines(readFileSync(file, 'utf8')).forEach((line) => {
        for (const re of STALE) if (re.test(line)) hits.push(`${file}: ${line.trim()}`);
      });
    assert.deepEqual(hits, []);
  });

  /** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1 … on repeats. */
  function anchorsOf(file: string): Set<string> {
    const seen = new Map<string, number>();
    const out = new Set<string>();
    for (const line of proseLines(readFileSync(file, 'utf8'))) {
      const m = /^#{1,6}\s+(.*)$/.exec(line);
      if (!m) continue;
      const slug = m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-');
      const n = seen.get(slug) ?? 0;
      seen.set(slug, n + 1);
      out.add(n === 0 ? slug : `${slug}-${n}`);
    }
    return out;
  }

  /** Relative links of a markdown file, resolved against the repository root. */
  function linksOf(file: string): { target: string; anchor: string | undefined; raw: string }[] {
    const out = [];
    for (const line of proseLines(readFileSync(file, 'utf8')))
      for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const raw = m[1]!;
        if (/^[a-z]+:/i.test(raw)) continue;
        const [path, anchor] = raw.split('#') as [string, string | undefined];
        out.push({
          target: path === '' ? file : normalize(join(dirname(file), path)),
          anchor,
          raw,
        });
      }
    return out;
  }

  it('every relative link and anchor in the docs resolves', () => {
    const broken: string[] = [];
    for (const file of MARKDOWN)
      for (const { target, anchor, raw } of linksOf(file)) {
        if (!existsSync(target)) broken.push(`${file}: ${raw} (no such file)`);
        else if (anchor && target.endsWith('.md') && !anchorsOf(target).has(anchor))
          broken.push(`${file}: ${raw} (no such heading)`);
      }
    // A section named in prose, `SECURITY.md "Replay across restarts"` or `cluster.md, "Limits"`:
    // the file (beside the doc, or from the root) has that heading or bold paragraph label.
    for (const file of MARKDOWN)
      for (const line of proseLines(readFileSync(file, 'utf8')))
        for (const m of line.matchAll(/([\w./-]*\w\.md)\)?,? "([^"]{3,80})"/g)) {
          const target = [normalize(join(dirname(file), m[1]!)), m[1]!].find((p) => existsSync(p));
          if (target === undefined) {
            broken.push(`${file}: ${m[0]} (no such file)`);
            continue;
          }
          const text = readFileSync(target, 'utf8');
          const headings = proseLines(text).filter((l) => /^#{1,6} /.test(l));
          if (!headings.some((h) => h.replace(/[`*]/g, '').includes(m[2]!)))
            if (!text.includes(`**${m[2]!}`)) broken.push(`${file}: ${m[0]} (no such section)`);
        }
    assert.deepEqual(broken, []);
  });

  it('every doc under docs/ is reachable by links from the README', () => {
    const reached = new Set<string>();
    const queue = ['README.md'];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (reached.has(file)) continue;
      reached.add(file);
      for (const { target } of linksOf(file)) {
        const md =
          existsSync(target) && statSync(target).isDirectory() ? join(target, 'README.md') : target;
        if (md.endsWith('.md') && existsSync(md) && !reached.has(md)) queue.push(md);
      }
    }
    assert.deepEqual(
      filesUnder('docs', '.md').filter((f) => !reached.has(f)),
      [],
      'docs no link leads to from README.md',
    );
  });

  it('the README is an index of at most 200 lines', () => {
    const lines = readFileSync('README.md', 'utf8').trimEnd().split('\n').length;
    assert.ok(lines <= 200, `README.md has ${lines} lines; move reference text into docs/`);
  });

  it('every test file a doc cites exists, with the test it names', () => {
    const cited = readFileSync('SECURITY.md', 'utf8').match(/`test\/[^`\s]+`/g) ?? [];
    assert.ok(cited.length > 20, 'SECURITY.md cites its tests');
    const wrong: string[] = [];
    for (const file of MARKDOWN)
      for (const line of proseLines(readFileSync(file, 'utf8')))
        for (const m of line.matchAll(/`(test\/[^`\s#]+)`(?:, "([^"]+)")?/g)) {
          const path = m[1]!;
          if (!existsSync(path)) wrong.push(`${file} cites ${path}, which does not exist`);
          else if (m[2] !== undefined && !readFileSync(path, 'utf8').includes(m[2]))
            wrong.push(`${file} cites "${m[2]}" in ${path}, which has no such test`);
        }
    assert.deepEqual(wrong, []);
  });
});
