/**
 * Sign-In with Ethereum checks (EIP-4361, docs/protocol/auth.md "Sign-In with Ethereum"), all
 * inside the enclave: the strict parse (protocol/siwe.ts), the message's domain and URI against
 * AUTH_SIWE_DOMAIN (and a scheme it names against AUTH_ISSUER's), its chain against
 * AUTH_SIWE_CHAIN_IDS, the nonce (made here and taken once), its validity times, and the EIP-191
 * signer. Only an externally owned account's signature is accepted: EIP-1271 contract wallets
 * would need a chain RPC and are out of scope.
 */
import { addr, eip191Signer } from 'micro-eth-signer';
import { RpcError } from '../../protocol/rpc/errors.js';
import {
  parseDateTime,
  parseSiweMessage,
  uriAuthority,
  type SiweMessage,
} from '../../protocol/siwe.js';
import type { ChallengeStore } from './challenges.js';

/** A message may claim to be issued this far in the future (clock skew between wallet and us). */
const ISSUED_AT_SKEW_MS = 60_000;

export interface SiweRules {
  domain: string;
  /** The only scheme a message may name (lower case); none named means https (EIP-4361). */
  scheme: string;
  chainIds: readonly number[];
}

/** "0x" ‖ r ‖ s ‖ v with v as 27/28 (or 0/1, which some wallets send): the 27/28 form. */
function normalizedSignature(signature: string): string {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new RpcError('AUTH_SIWE_SIGNATURE_INVALID');
  const v = parseInt(signature.slice(130), 16);
  if (v === 27 || v === 28) return signature.toLowerCase();
  if (v === 0 || v === 1) return `${signature.slice(0, 130).toLowerCase()}${(v + 27).toString(16)}`;
  throw new RpcError('AUTH_SIWE_SIGNATURE_INVALID');
}

/** The message's statements about where it may be used: this service, an allowed chain. */
export function checkAudience(m: SiweMessage, rules: SiweRules): void {
  const want = rules.domain.toLowerCase();
  const authority = uriAuthority(m.uri);
  if (m.domain.toLowerCase() !== want || authority?.toLowerCase() !== want)
    throw new RpcError('AUTH_SIWE_INVALID');
  // The wallet checked the named scheme against the asking page: only ours may be named.
  if (m.scheme !== undefined && m.scheme.toLowerCase() !== rules.scheme)
    throw new RpcError('AUTH_SIWE_INVALID');
  if (m.scheme !== undefined && !m.uri.toLowerCase().startsWith(`${m.scheme.toLowerCase()}://`))
    throw new RpcError('AUTH_SIWE_INVALID');
  if (!rules.chainIds.includes(m.chainId)) throw new RpcError('AUTH_SIWE_INVALID');
}

/** Issued-at not in the future, expiration-time not passed, not-before reached. */
export function checkTimes(m: SiweMessage, nowMs: number): void {
  if (parseDateTime(m.issuedAt) > nowMs + ISSUED_AT_SKEW_MS)
    throw new RpcError('AUTH_SIWE_EXPIRED');
  if (m.expirationTime !== undefined && parseDateTime(m.expirationTime) <= nowMs)
    throw new RpcError('AUTH_SIWE_EXPIRED');
  if (m.notBefore !== undefined && parseDateTime(m.notBefore) > nowMs)
    throw new RpcError('AUTH_SIWE_EXPIRED');
}

/** The EIP-55 address whose key signed `message` (EIP-191 personal_sign), if it is `claimed`. */
export function checkSigner(message: string, signature: string, claimed: string): string {
  let signer: string;
  try {
    signer = eip191Signer.recoverAddress(normalizedSignature(signature), message);
  } catch {
    throw new RpcError('AUTH_SIWE_SIGNATURE_INVALID');
  }
  if (addr.addChecksum(signer) !== claimed) throw new RpcError('AUTH_SIWE_SIGNATURE_INVALID');
  return claimed;
}

/**
 * All checks, in an order that spends the nonce only on a message meant for this service: a
 * message for another domain is refused without burning a nonce someone else may still use.
 * Returns the signer's EIP-55 address.
 */
export function verifySiwe(
  message: string,
  signature: string,
  rules: SiweRules,
  nonces: ChallengeStore,
  nowSeconds: number,
): string {
  let m: SiweMessage;
  try {
    m = parseSiweMessage(message);
  } catch {
    throw new RpcError('AUTH_SIWE_INVALID');
  }
  checkAudience(m, rules);
  if (!nonces.take(m.nonce, nowSeconds)) throw new RpcError('AUTH_SIWE_NONCE_INVALID');
  try {
    checkTimes(m, nowSeconds * 1000);
  } catch (err) {
    if (err instanceof RpcError) throw err;
    throw new RpcError('AUTH_SIWE_INVALID');
  }
  return checkSigner(message, signature, m.address);
}
