/** What the cluster tests share: a simulated machine, an injected request, waiting for ready. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulatedPlatform } from '../../src/enclave/platform/simulated.js';
import type { TestService } from '../helpers/service.js';

/** A data folder whose simulated platform exists already, so its vendor key can be listed. */
export function machine(codePath = 'dist/enclave/enclave.mjs') {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-machine-'));
  const platform = createSimulatedPlatform({ dir: join(dir, 'simulated-platform'), codePath });
  const vendorKey = readFileSync(join(dir, 'simulated-platform', 'vendor.pub'), 'utf8').trim();
  return { dir, platform, vendorKey };
}

export const inject = (
  ts: TestService,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
  token?: string,
) =>
  ts.service.app.inject({
    method,
    url,
    ...(payload ? { payload } : {}),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

/** Resolves once `/readyz` answers 200. */
export async function ready(ts: TestService): Promise<TestService> {
  for (;;) {
    if ((await inject(ts, 'GET', '/readyz')).statusCode === 200) return ts;
    await new Promise((r) => setTimeout(r, 50));
  }
}
