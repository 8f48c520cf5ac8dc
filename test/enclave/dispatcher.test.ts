/**
 * The enclave's RPC boundary: closed method table, phase checks, params validation, batching,
 * and error frames that carry only fixed codes and messages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PARTIAL_RESULTS, dispatchFrame } from '../../src/enclave/dispatcher.js';
import { RPC_ERROR_MESSAGES } from '../../src/protocol/rpc/errors.js';
import { testEnclave } from '../helpers/enclave-state.js';

type Results = {
  results: {
    id: number;
    ok: boolean;
    result?: unknown;
    error?: { code: string; message: string };
  }[];
};

describe('enclave dispatcher', () => {
  it('answers an undecodable frame with an error frame', async () => {
    const { state } = testEnclave();
    assert.deepEqual(await dispatchFrame(state, { nope: 1 }), {
      error: { code: 'FRAME_INVALID', message: RPC_ERROR_MESSAGES.FRAME_INVALID },
    });
    assert.equal('error' in (await dispatchFrame(state, { calls: [] })), true);
  });

  it('refuses unknown methods, wrong phases and bad params, each with its code', async () => {
    const { state } = testEnclave();
    const res = (await dispatchFrame(state, {
      calls: [
        { id: 1, method: 'credential.dump_all', params: {} },
        { id: 2, method: 'attestation.get', params: { nonce: 'n'.repeat(16) } },
        { id: 3, method: 'keyring.generate', params: { policy: 'nobody' } },
        { id: 4, method: 'enclave.status', params: {} },
      ],
    })) as Results;
    assert.deepEqual(
      res.results.map((r) => (r.ok ? 'ok' : r.error!.code)),
      ['METHOD_UNKNOWN', 'PHASE_FORBIDDEN', 'PARAMS_INVALID', 'ok'],
    );
    for (const r of res.results.filter((x) => !x.ok)) {
      assert.equal(
        r.error!.message,
        RPC_ERROR_MESSAGES[r.error!.code as keyof typeof RPC_ERROR_MESSAGES],
      );
    }
  });

  it('runs a batch in one frame, in order, and moves awaiting_keyring → ready', async () => {
    const { state } = testEnclave();
    const res = (await dispatchFrame(state, {
      calls: [
        { id: 7, method: 'keyring.generate', params: { policy: 'signer' } },
        { id: 8, method: 'keyring.generate', params: { policy: 'signer' } },
        { id: 9, method: 'attestation.get', params: { nonce: 'abcdefghijklmnop' } },
      ],
    })) as Results;
    assert.deepEqual(
      res.results.map((r) => r.id),
      [7, 8, 9],
    );
    assert.equal(res.results[0]!.ok, true);
    assert.equal(res.results[1]!.error?.code, 'PHASE_FORBIDDEN');
    assert.equal(res.results[2]!.ok, true);
    assert.equal(state.phase, 'ready');
  });

  it('never lets a handler exception message out', async () => {
    const { state } = testEnclave();
    await dispatchFrame(state, {
      calls: [{ id: 1, method: 'keyring.generate', params: { policy: 'signer' } }],
    });
    // A well-formed but undecryptable envelope: the handler throws inside; only the code leaves.
    const res = (await dispatchFrame(state, {
      calls: [
        {
          id: 2,
          method: 'credential.submit',
          params: {
            envelope: {
              ephemeral_pub: Buffer.alloc(32, 9).toString('base64'),
              nonce: Buffer.alloc(12).toString('base64'),
              ciphertext: Buffer.from('{"secret":"s3cr3t"}').toString('base64'),
              tag: Buffer.alloc(16).toString('base64'),
            },
            metadata: { exchange: 'binance', label: 'x', ttl: 600 },
          },
        },
      ],
    })) as Results;
    assert.deepEqual(res.results[0]!.error, {
      code: 'ENVELOPE_INVALID',
      message: RPC_ERROR_MESSAGES.ENVELOPE_INVALID,
    });
  });

  it('sends the results of a long frame ahead in pieces, each call once, in order', async () => {
    const { state } = testEnclave();
    const pieces: number[][] = [];
    const calls = Array.from({ length: 2 * PARTIAL_RESULTS + 5 }, (_, i) =>
      // A bad call among them is answered in its place like the others.
      i === 20
        ? { id: 1000 + i, method: 'keyring.generate', params: { policy: 'nobody' } }
        : { id: 1000 + i, method: 'enclave.status', params: {} },
    );
    const res = (await dispatchFrame(state, { calls }, undefined, (results) =>
      pieces.push(results.map((r) => r.id)),
    )) as Results;
    assert.deepEqual(
      pieces.map((p) => p.length),
      [PARTIAL_RESULTS, PARTIAL_RESULTS],
    );
    const ids = [...pieces.flat(), ...res.results.map((r) => r.id)];
    assert.deepEqual(
      ids,
      calls.map((c) => c.id),
    );
    assert.equal(res.results.length, 5);
    // Exactly PARTIAL_RESULTS calls: one frame, nothing sent ahead.
    pieces.length = 0;
    const whole = (await dispatchFrame(
      state,
      { calls: calls.slice(0, PARTIAL_RESULTS) },
      undefined,
      (results) => pieces.push(results.map((r) => r.id)),
    )) as Results;
    assert.deepEqual(pieces, []);
    assert.equal(whole.results.length, PARTIAL_RESULTS);
  });

  it('keeps the results a throwing partial callback was given, in order, in the final frame', async () => {
    const { state } = testEnclave();
    const calls = Array.from({ length: 2 * PARTIAL_RESULTS + 5 }, (_, i) => ({
      id: 2000 + i,
      method: 'enclave.status',
      params: {},
    }));
    // A rejection nobody awaits yet would end the enclave: none may escape.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // Every piece throws: the first is awaited while the frame runs, the second at its end.
      const all = (await dispatchFrame(state, { calls }, undefined, () => {
        throw new Error('send failed');
      })) as Results;
      assert.deepEqual(
        all.results.map((r) => r.id),
        calls.map((c) => c.id),
      );
      // Only the second piece throws: the first went ahead, the second joins the last ones.
      const pieces: number[][] = [];
      const some = (await dispatchFrame(state, { calls }, undefined, (results) => {
        if (pieces.push(results.map((r) => r.id)) === 2) throw new Error('send failed');
      })) as Results;
      assert.deepEqual(
        pieces[0],
        calls.slice(0, PARTIAL_RESULTS).map((c) => c.id),
      );
      assert.deepEqual(
        some.results.map((r) => r.id),
        calls.slice(PARTIAL_RESULTS).map((c) => c.id),
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
