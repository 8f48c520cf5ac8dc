/**
 * The documented registries match the code: every HTTP error code in docs/errors.md and every
 * ops event type in docs/ops-events.md, exactly once, and nothing else; every configuration
 * variable in the README's table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/host/config.js';
import { HTTP_ERRORS, HTTP_ERROR_CODES } from '../../src/host/errors.js';
import { OPS_EVENT_TYPES } from '../../src/host/ops-events.js';

/** Backticked words in the first column of a markdown table. */
function firstColumnCodes(path: string): string[] {
  return readFileSync(path, 'utf8')
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
});
