/**
 * Sealing on platforms whose hardware gives the guest no sealing key (Intel TDX, AMD SEV-SNP,
 * AWS Nitro Enclaves): the root key is *released on attestation*. Something inside the same TEE
 * (a key-release agent: AWS KMS with a Nitro attestation document as Recipient, a KBS/KMS that
 * verifies the TDX quote or SNP report) obtains a 32-byte key after proving the measurement,
 * and writes it to `SEALING_KEY_FILE` (a tmpfs inside the TEE) before the enclave starts.
 * Cloister does not implement that agent; it refuses to start without the file.
 *
 * The file holds exactly 32 raw bytes or 64 hex digits (a trailing newline is allowed), and
 * must not be readable by group or others; on TDX and SEV-SNP it must also be owned by the
 * enclave's own user (`owner`, isolation.ts), not by the host's. Per policy the sealing key is
 *   HKDF-SHA256(released key, salt "cloister/seal/v1", info policy ":" identity, 32 bytes),
 * the same derivation as the simulated platform, so a key bound to the measurement differs from
 * one bound to the signer. What the seal is really bound to is whatever the KMS's release
 * policy checks: docs/platforms/README.md.
 */
import { hkdfSync } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import type { SealPolicy } from '../../protocol/rpc/methods.js';
import { PlatformError } from './device.js';

export const SEAL_HKDF_SALT = 'cloister/seal/v1';

/**
 * Reads the released key. `owner`: the uid that must own the file (the enclave's, where
 * isolation.ts applies). Mode and owner are those of the file opened, not of whatever the path
 * names a moment earlier.
 */
export function loadReleasedKey(path: string | undefined, owner?: number): Buffer {
  if (!path) throw new PlatformError('SEALING_KEY_FILE is required on this platform');
  let raw: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      const st = fstatSync(fd);
      if ((st.mode & 0o077) !== 0)
        throw new PlatformError(`SEALING_KEY_FILE ${path}: readable by group or others`);
      if (owner !== undefined && st.uid !== owner)
        throw new PlatformError(
          `SEALING_KEY_FILE ${path}: owned by uid ${st.uid}, not by the enclave's uid ${owner}`,
        );
      raw = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (err instanceof PlatformError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PlatformError(`SEALING_KEY_FILE ${path}: ${code} (not provisioned by the KMS?)`);
  }
  try {
    if (raw.length === 32) return Buffer.from(raw);
    const text = raw.toString('latin1').replace(/\n$/, '');
    if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
    throw new PlatformError(`SEALING_KEY_FILE ${path}: expected 32 bytes or 64 hex digits`);
  } finally {
    raw.fill(0);
  }
}

/** The 32-byte sealing key for `policy` bound to `identity`. Caller wipes it. */
export function deriveSealingKey(
  root: Uint8Array,
  policy: SealPolicy,
  identity: string,
): Uint8Array {
  const info = new TextEncoder().encode(`${policy}:${identity}`);
  return new Uint8Array(hkdfSync('sha256', root, SEAL_HKDF_SALT, info, 32));
}
