/**
 * The documented registries match the code: every HTTP error code in docs/errors.md and every
 * ops event type in docs/ops-events.md, exactly once, and nothing else; every configuration
 * variable in the README's table; every log entry type in the transparency-log spec's table; and
 * every test SECURITY.md cites as proof exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/host/config.js';
import { HTTP_ERRORS, HTTP_ERROR_CODES } from '../../src/host/errors.js';
import { OPS_EVENT_TYPES } from '../../src/host/ops-events.js';
import { LOG_ENTRY_TYPES } from '../../src/protocol/log/entry.js';

/** Backticked words in the first column of a markdown table. */
function firstColumnCodes(path: string): string[] {
  return firstColumnCodesOf(readFileSync(path, 'utf8'));
}

function firstColumnCodesOf(text: string): string[] {
  return text
    .split('\n')
    .map((line) => /^\|\s*`([^`]+)`\s*\|/.exec(line)?.[1])
    .filter((c): c is string => c !== undefined);
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

  it("the README's configuration table lists every variable the host reads", () => {
    const readme = firstColumnCodes('README.md');
    for (const name of CONFIG_VARIABLES)
      assert.ok(readme.includes(name), `${name} missing from README's table`);
  });

  it('docs/ops-events.md lists every ops event type once', () => {
    assert.deepEqual(
      [...firstColumnCodes('docs/ops-events.md')].sort(),
      [...OPS_EVENT_TYPES].sort(),
    );
  });

  it("docs/protocol/transparency-log.md's type table lists every log entry type once", () => {
    const text = readFileSync('docs/protocol/transparency-log.md', 'utf8');
    // The first table after the heading, and nothing after it.
    const lines = text.slice(text.indexOf('### What is logged')).split('\n');
    const start = lines.findIndex((l) => l.startsWith('|'));
    const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
    const types = firstColumnCodesOf(lines.slice(start, end).join('\n')).filter(
      (t) => t !== 'type',
    );
    assert.deepEqual([...new Set(types)].sort(), [...LOG_ENTRY_TYPES].sort());
  });

  it('every test file SECURITY.md cites as proof exists', () => {
    const cited = readFileSync('SECURITY.md', 'utf8').match(/`test\/[^`\s]+`/g) ?? [];
    assert.ok(cited.length > 20, 'SECURITY.md cites its tests');
    for (const c of cited) {
      const path = c.slice(1, -1);
      assert.ok(existsSync(path), `SECURITY.md cites ${path}, which does not exist`);
    }
  });
});
