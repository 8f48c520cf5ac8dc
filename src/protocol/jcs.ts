/**
 * RFC 8785 JSON Canonicalization Scheme. One call site for the whole code base, so every
 * signature and report-data preimage is computed over the same canonical bytes. Wraps the
 * `canonicalize` package (the RFC author's reference implementation) instead of hand-rolling it.
 */
import canonicalize from 'canonicalize';
import { utf8 } from './encoding.js';

export function jcs(value: unknown): string {
  const out = canonicalize(value);
  if (typeof out !== 'string') throw new TypeError('value cannot be canonicalized');
  return out;
}

export function jcsBytes(value: unknown): Uint8Array {
  return utf8.encode(jcs(value));
}
