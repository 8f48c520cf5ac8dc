/**
 * The `simulated` TEE platform: real keys, real signatures, no hardware. The "vendor" is an
 * Ed25519 key and the "fused secret" a random 32 bytes, both created on first use in a folder
 * on this machine (mode 0600). Anyone who can read that folder can forge evidence and unseal
 * state: it proves the protocol, not confidentiality, and its evidence says `debug: true`.
 *
 * measurement = SHA-384 of the enclave bundle file that is running;
 * signer      = SHA-256("cloister/simulated-signer/v1") (one fixed development signer);
 * sealing key = HKDF-SHA256(platform secret, salt "cloister/seal/v1", info policy ":" identity).
 */
import { createHash, hkdfSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToBase64, bytesToHex, utf8 } from '../../protocol/encoding.js';
import { jcsBytes } from '../../protocol/jcs.js';
import {
  SIMULATED_EVIDENCE_FORMAT,
  simulatedEvidenceSigningInput,
  type SimulatedEvidenceBody,
} from '../../protocol/attestation/simulated-evidence.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';
import { ed25519PrivateKeyObject, ed25519RawPublic } from '../crypto/ed25519.js';
import { sealIdentity, type Platform } from './platform.js';

export const SIMULATED_SIGNER = bytesToHex(
  createHash('sha256').update('cloister/simulated-signer/v1').digest(),
);

/** Reads a 32-byte secret file, creating it (exclusively, 0600) on first use. */
function loadOrCreateSecret(path: string): Buffer {
  try {
    writeFileSync(path, randomBytes(32), { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const bytes = readFileSync(path);
  if (bytes.length !== 32) throw new Error(`${path}: expected 32 bytes`);
  return bytes;
}

export interface SimulatedPlatformOptions {
  /** Folder for vendor.key and platform.secret. */
  dir: string;
  /** The enclave bundle whose bytes are measured. */
  codePath: string;
  now?: () => number;
}

export function createSimulatedPlatform(opts: SimulatedPlatformOptions): Platform {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  chmodSync(opts.dir, 0o700);
  const vendorSeed = loadOrCreateSecret(join(opts.dir, 'vendor.key'));
  const vendorKey: KeyObject = ed25519PrivateKeyObject(vendorSeed);
  vendorSeed.fill(0);
  const vendorPub = bytesToBase64(ed25519RawPublic(vendorKey));
  // Publish the vendor public key beside it: it is what a verifier must choose to trust.
  writeFileSync(join(opts.dir, 'vendor.pub'), `${vendorPub}\n`, { mode: 0o644 });
  const platformSecret = loadOrCreateSecret(join(opts.dir, 'platform.secret'));
  const measurement = createHash('sha384').update(readFileSync(opts.codePath)).digest('hex');
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));

  const platform: Platform = {
    name: 'simulated',
    measurement,
    signer: SIMULATED_SIGNER,
    evidence(reportData) {
      if (reportData.length !== 64) throw new RangeError('reportData must be 64 bytes');
      const body: SimulatedEvidenceBody = {
        format: SIMULATED_EVIDENCE_FORMAT,
        platform: 'simulated',
        debug: true,
        measurement,
        signer: SIMULATED_SIGNER,
        report_data: bytesToHex(reportData),
        timestamp: now(),
        vendor_key: vendorPub,
      };
      const signature = sign(null, simulatedEvidenceSigningInput(body), vendorKey);
      return jcsBytes({ ...body, signature: bytesToBase64(signature) });
    },
    sealingKey(policy: SealPolicy) {
      const info = utf8.encode(`${policy}:${sealIdentity(platform, policy)}`);
      return new Uint8Array(hkdfSync('sha256', platformSecret, 'cloister/seal/v1', info, 32));
    },
  };
  return platform;
}

/** Reads the published simulated vendor key (base64) from a platform folder. */
export function readSimulatedVendorKey(dir: string): string {
  return readFileSync(join(dir, 'vendor.pub'), 'utf8').trim();
}
