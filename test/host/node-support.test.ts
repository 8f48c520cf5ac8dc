import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MIN_NODE, unsupportedNodeWarning } from '../../src/host/node-support.js';

describe('the supported Node.js lines', () => {
  it('match package.json engines', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, `>=${MIN_NODE.join('.')}`);
  });

  it('warn below 22.12 and nowhere else', () => {
    for (const v of ['20.20.2', '18.0.0', '22.11.0', '21.7.3', '0.10.48'])
      assert.match(
        unsupportedNodeWarning(v) ?? '',
        new RegExp(`^Node\\.js v${v.replaceAll('.', '\\.')} is not supported`),
      );
    for (const v of ['22.12.0', '22.20.1', '24.22.3', '25.0.0', '100.1.0'])
      assert.equal(unsupportedNodeWarning(v), null);
  });

  it('this test runs on a supported line (CI pins .ci/node-version)', () => {
    assert.equal(unsupportedNodeWarning(process.versions.node), null);
    const pinned = readFileSync('.ci/node-version', 'utf8').trim();
    assert.equal(unsupportedNodeWarning(pinned), null);
  });
});
