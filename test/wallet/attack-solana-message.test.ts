/**
 * Attack review (wallet custody): `sol_message` must refuse every byte string a validator would
 * take as a transaction message (or a signature over it would sign a transaction past the
 * policy), and only those. Built by hand, byte by byte, after Solana's wire format: a legacy
 * and a v0 message with address-table lookups and multi-byte lengths are transactions; a
 * non-minimal length, a version other than 0, trailing bytes and an off-chain message
 * (`\xffsolana offchain`) are not, and validators refuse them as transactions too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSolanaTransactionMessage } from '../../src/protocol/wallet/solana-message.js';

const key = (n: number) => new Uint8Array(32).fill(n);
const bytes = (...parts: (number | Uint8Array | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p])));

/** header, keys, blockhash, one instruction with `data` (its length as given). */
function legacy(dataLen: number[], data: Uint8Array, keysLen: number[] = [2]): Uint8Array {
  return bytes(1, 0, 1, keysLen, key(1), key(2), key(9), 1, 1, [1, 0], dataLen, data);
}

describe('sol_message: which bytes are a transaction message', () => {
  it('a legacy message, a 200-byte instruction (2-byte length) and a v0 message with lookups', () => {
    assert.ok(isSolanaTransactionMessage(legacy([3], bytes(1, 2, 3))));
    assert.ok(isSolanaTransactionMessage(legacy([0xc8, 0x01], new Uint8Array(200))));
    const v0 = bytes(0x80, legacy([0], new Uint8Array(0)), 1, key(7), 1, 0, 1, 1);
    assert.ok(isSolanaTransactionMessage(v0));
  });

  it('not: a non-minimal length, version 1, trailing bytes, an off-chain message', () => {
    // 3 written in two bytes (0x83 0x00): validators refuse the alias.
    assert.ok(!isSolanaTransactionMessage(legacy([0x83, 0x00], bytes(1, 2, 3))));
    assert.ok(!isSolanaTransactionMessage(legacy([3], bytes(1, 2, 3), [0x82, 0x00])));
    assert.ok(!isSolanaTransactionMessage(bytes(0x81, legacy([0], new Uint8Array(0)), 0)));
    assert.ok(!isSolanaTransactionMessage(bytes(legacy([3], bytes(1, 2, 3)), 0)));
    const offchain = bytes(0xff, [...new TextEncoder().encode('solana offchain')], 0, 0, 5, 0);
    assert.ok(!isSolanaTransactionMessage(offchain));
  });
});
