/**
 * The primitives an envelope needs, as an interface, so that the envelope format is defined once
 * (in this folder) and each zone plugs in its own audited backend: the client SDK uses @noble/*
 * (pure JS, runs in browsers), the enclave uses node:crypto (20x faster, see
 * research/perf-limits.md §4). Both are checked against the same Wycheproof vectors.
 */
export interface AeadPrimitives {
  /** AES-256-GCM (or AES-128-GCM by key length) with a 16-byte tag. */
  aesGcmSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad?: Uint8Array,
  ): { ciphertext: Uint8Array; tag: Uint8Array };
  /** Throws on authentication failure; never returns unauthenticated bytes. */
  aesGcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    aad?: Uint8Array,
  ): Uint8Array;
}

export interface EnvelopePrimitives extends AeadPrimitives {
  /** X25519(scalar, u) per RFC 7748 §5; throws on an all-zero output. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
  x25519PublicKey(privateKey: Uint8Array): Uint8Array;
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  randomBytes(n: number): Uint8Array;
}

/**
 * The recipient side of a key agreement. The enclave implements it over a key it never
 * exports; `privateKey()` exists only for HPKE, whose library needs the raw scalar.
 */
export interface X25519Recipient {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  agree(peerPublicKey: Uint8Array): Uint8Array;
  privateKey(): Uint8Array;
}
