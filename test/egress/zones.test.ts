/**
 * The trust-zone rule for sockets (eslint.config.js): in the enclave only src/enclave/egress may
 * import node:http, node:https, node:tls and node:net (node:net also the enclave's RPC server and
 * the NSM helper client). scripts/check-zones.mjs enforces the same on sources and the bundle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(filePath: string, spec: string): Promise<boolean> {
  const code = `import * as m from '${spec}';\nexport const x = m;\n`;
  const [res] = await eslint.lintText(code, { filePath });
  return res!.messages.some((m) => m.ruleId === 'no-restricted-imports');
}

describe('zone rule: sockets only from the enclave egress', () => {
  it('forbids node:http, node:https, node:tls, node:net elsewhere in the enclave', async () => {
    for (const spec of ['node:http', 'node:https', 'node:tls', 'node:net', 'https', 'net']) {
      assert.equal(await restricted('src/enclave/exchanges/probe.ts', spec), true, spec);
      assert.equal(await restricted('src/enclave/methods/probe.ts', spec), true, spec);
    }
  });

  it('allows them in src/enclave/egress', async () => {
    for (const spec of ['node:http', 'node:https', 'node:tls', 'node:net']) {
      assert.equal(await restricted('src/enclave/egress/probe.ts', spec), false, spec);
    }
  });

  it('allows node:net (only) to the enclave RPC server and the NSM client', async () => {
    assert.equal(await restricted('src/enclave/server.ts', 'node:net'), false);
    assert.equal(await restricted('src/enclave/platform/nsm.ts', 'node:net'), false);
    assert.equal(await restricted('src/enclave/server.ts', 'node:https'), true);
  });

  it('keeps the other enclave bans inside egress', async () => {
    assert.equal(await restricted('src/enclave/egress/probe.ts', 'undici'), true);
    assert.equal(await restricted('src/enclave/egress/probe.ts', 'node:child_process'), true);
  });
});
