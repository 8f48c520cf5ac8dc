/**
 * A test-side GF(2^8) (AES polynomial 0x11b) Lagrange interpolation, written independently of
 * `shamir-secret-sharing`, so the Vault byte layout (y bytes, then x) is checked by two codes.
 */
export function gfMul(a: number, b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) r ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= 0x1b;
    b >>= 1;
  }
  return r;
}

const INV = new Map<number, number>();
export function gfInv(a: number): number {
  // a^254 = a^-1 (Fermat)
  let r = INV.get(a);
  if (r === undefined) {
    r = 1;
    for (let i = 0; i < 254; i++) r = gfMul(r, a);
    INV.set(a, r);
  }
  return r;
}

/** Value at x = 0 of the polynomial through the Vault-format shares (x = last byte). */
export function interpolateAtZero(shares: Uint8Array[]): Uint8Array {
  const xs = shares.map((s) => s[s.length - 1]!);
  const out = new Uint8Array(shares[0]!.length - 1);
  for (let byte = 0; byte < out.length; byte++) {
    let acc = 0;
    for (let i = 0; i < shares.length; i++) {
      let basis = 1;
      for (let j = 0; j < shares.length; j++) {
        if (i === j) continue;
        basis = gfMul(basis, gfMul(xs[j]!, gfInv(xs[i]! ^ xs[j]!)));
      }
      acc ^= gfMul(shares[i]![byte]!, basis);
    }
    out[byte] = acc;
  }
  return out;
}

/** The share at x2 on the line through (0, secret) and the given share: any secret fits one share. */
export function lineShare(secret: Uint8Array, share: Uint8Array, x2: number): Uint8Array {
  const x1 = share[share.length - 1]!;
  const out = new Uint8Array(share.length);
  for (let i = 0; i < secret.length; i++) {
    const slope = gfMul(share[i]! ^ secret[i]!, gfInv(x1));
    out[i] = secret[i]! ^ gfMul(slope, x2);
  }
  out[share.length - 1] = x2;
  return out;
}
