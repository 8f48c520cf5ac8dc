/**
 * rotateSealed, the one host implementation of a sealed-keyring rotation: prepare, then the
 * blob, its ops event and its log entry in one commit, then activate; a failed commit never
 * activates.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogEntry } from '../../src/protocol/log/entry.js';
import { rotateSealed } from '../../src/host/enclave-client/sealed-rotation.js';

function harness(failCommit: boolean) {
  const steps: string[] = [];
  const entries: LogEntry[] = [];
  const tx = { query: async () => ({ rows: [] }) } as never;
  const deps = {
    log: {
      async commit<T>(op: {
        work(tx: never): Promise<{ result: T; entries: LogEntry[] }>;
      }): Promise<never> {
        const r = await op.work(tx);
        if (failCommit) throw new Error('commit failed');
        entries.push(...r.entries);
        steps.push('commit');
        return { result: r.result } as never;
      },
    },
    ops: { record: async (_q: unknown, e: { type: string }) => void steps.push(`ops ${e.type}`) },
  };
  type Prepared = { generation: number; sealed: string; kid: string };
  const rotation = {
    prepare: async (): Promise<Prepared> => (
      steps.push('prepare'),
      { generation: 2, sealed: 'AAAA', kid: 'k2' }
    ),
    persist: async (_tx: unknown, p: Prepared) => void steps.push(`persist ${p.generation}`),
    logEntry: (p: Prepared) => ({ type: 'auth.key_rotated' as const, subject: p.kid }),
    opsEvent: (p: Prepared) => ({
      type: 'auth.key_rotated' as const,
      generation: p.generation,
      keyId: p.kid,
    }),
    activate: async (p: Prepared) => (steps.push('activate'), p.generation),
  };
  return { steps, entries, run: () => rotateSealed(deps as never, rotation) };
}

describe('rotateSealed', () => {
  it('prepare → persist + ops event + log entry in one commit → activate', async () => {
    const h = harness(false);
    assert.equal(await h.run(), 2);
    assert.deepEqual(h.steps, [
      'prepare',
      'persist 2',
      'ops auth.key_rotated',
      'commit',
      'activate',
    ]);
    assert.equal(h.entries.length, 1);
    assert.equal(h.entries[0]!.type, 'auth.key_rotated');
    assert.equal(h.entries[0]!.subject, 'k2');
  });

  it('a failed commit never activates', async () => {
    const h = harness(true);
    await assert.rejects(h.run(), /commit failed/);
    assert.ok(!h.steps.includes('activate'));
  });
});
