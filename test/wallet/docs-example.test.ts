/** docs/protocol/wallet-shares.md's worked example is the output of the production code. */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { workedExample } from './worked-example.js';

it('the worked example in docs/protocol/wallet-shares.md is current', async () => {
  const doc = readFileSync(
    new URL('../../docs/protocol/wallet-shares.md', import.meta.url),
    'utf8',
  );
  assert.ok(
    doc.includes(await workedExample()),
    'regenerate: node --import tsx test/wallet/worked-example.ts',
  );
});
