/**
 * A strict reader of serialized Solana transaction messages (legacy and v0). The enclave needs
 * two facts: which accounts must sign (so it signs only a transaction naming the wallet's
 * address as a signer), and whether some bytes ARE a transaction message (so `sol_message`
 * cannot be used to sign a transaction past the policy: a transaction signature is an ed25519
 * signature over exactly these bytes).
 */
export interface SolanaMessageInfo {
  version: 'legacy' | 0;
  /** The first `numRequiredSignatures` account keys, in order. */
  signers: Uint8Array[];
}

class Reader {
  private off = 0;
  constructor(private readonly b: Uint8Array) {}
  u8(): number {
    if (this.off >= this.b.length) throw new RangeError('truncated');
    return this.b[this.off++]!;
  }
  bytes(n: number): Uint8Array {
    if (this.off + n > this.b.length) throw new RangeError('truncated');
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  /** Solana's compact-u16 ("shortvec"): 1 to 3 bytes, 7 bits each, minimal encoding. */
  shortU16(): number {
    let value = 0;
    for (let i = 0; i < 3; i++) {
      const byte = this.u8();
      value |= (byte & 0x7f) << (7 * i);
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new RangeError('non-minimal shortvec');
        if (value > 0xffff) throw new RangeError('shortvec overflow');
        return value;
      }
    }
    throw new RangeError('shortvec too long');
  }
  done(): boolean {
    return this.off === this.b.length;
  }
}

/** Parses a whole message; throws RangeError unless the bytes are exactly one message. */
export function parseSolanaMessage(bytes: Uint8Array): SolanaMessageInfo {
  const r = new Reader(bytes);
  let version: 'legacy' | 0 = 'legacy';
  let first = r.u8();
  if (first & 0x80) {
    if ((first & 0x7f) !== 0) throw new RangeError('unsupported message version');
    version = 0;
    first = r.u8();
  }
  const numSigners = first;
  const readonlySigned = r.u8();
  r.u8(); // readonly unsigned
  const numKeys = r.shortU16();
  if (numSigners === 0 || numSigners > numKeys || readonlySigned >= numSigners)
    throw new RangeError('invalid header');
  const keys = Array.from({ length: numKeys }, () => r.bytes(32));
  r.bytes(32); // recent blockhash
  const numInstructions = r.shortU16();
  for (let i = 0; i < numInstructions; i++) {
    r.u8(); // program id index
    r.bytes(r.shortU16()); // account indexes
    r.bytes(r.shortU16()); // data
  }
  if (version === 0) {
    const lookups = r.shortU16();
    for (let i = 0; i < lookups; i++) {
      r.bytes(32);
      r.bytes(r.shortU16());
      r.bytes(r.shortU16());
    }
  }
  if (!r.done()) throw new RangeError('trailing bytes');
  return { version, signers: keys.slice(0, numSigners) };
}

export function isSolanaTransactionMessage(bytes: Uint8Array): boolean {
  try {
    parseSolanaMessage(bytes);
    return true;
  } catch {
    return false;
  }
}
