/**
 * AWS Nitro Enclaves (TEE_PLATFORM=nitro). Evidence is the NSM attestation document
 * (COSE_Sign1 over a CBOR map, AWS "Nitro Enclaves attestation process") with
 * user_data = the 64 report-data bytes; nonce and public_key are left null. The document is
 * fetched through an NsmTransport (nsm.ts). Identity comes from a document taken at start:
 *   measurement = PCR0 (SHA-384 of the enclave image file, all zero in debug mode);
 *   signer      = PCR8 (SHA-384 of the EIF signing certificate; zero for an unsigned EIF).
 * Sealing uses a key released on attestation (released-key.ts): NSM has no sealing key.
 * The document's signature is not checked here: that is the verifier's job, and this process
 * would only be checking the hardware it already trusts.
 */
import { decode } from 'cborg';
import { bytesEqual, bytesToHex } from '../../protocol/encoding.js';
import { PlatformError, assertReportData, createQueue } from './device.js';
import {
  decodeAttestationResponse,
  encodeAttestationRequest,
  type AttestationRequest,
  type NsmTransport,
} from './nsm.js';
import { sealIdentity, type Platform } from './platform.js';
import { deriveSealingKey } from './released-key.js';

// COSE_Sign1 may arrive with CBOR tag 18 (RFC 9052 §4.2); NSM documents are untagged.
const COSE_TAGS: ((inner: unknown) => unknown)[] = [];
COSE_TAGS[18] = (inner) => inner;

export interface NitroDocumentFields {
  pcrs: Map<number, Uint8Array>;
  userData: Uint8Array | null;
  timestamp: number;
}

/** Reads the payload fields the platform needs from a COSE_Sign1 attestation document. */
export function parseNitroDocument(doc: Uint8Array): NitroDocumentFields {
  try {
    const cose = decode(doc, { tags: COSE_TAGS, useMaps: true }) as unknown;
    if (!Array.isArray(cose) || cose.length !== 4 || !(cose[2] instanceof Uint8Array))
      throw new Error('not COSE_Sign1');
    const payload = decode(cose[2], { useMaps: true }) as unknown;
    if (!(payload instanceof Map)) throw new Error('payload is not a map');
    const pcrs = payload.get('pcrs') as unknown;
    if (!(pcrs instanceof Map)) throw new Error('no pcrs');
    for (const [k, v] of pcrs)
      if (typeof k !== 'number' || !(v instanceof Uint8Array)) throw new Error('bad pcr');
    const userData = payload.get('user_data') as unknown;
    const timestamp = payload.get('timestamp') as unknown;
    if (typeof timestamp !== 'number') throw new Error('no timestamp');
    return {
      pcrs: pcrs as Map<number, Uint8Array>,
      userData: userData instanceof Uint8Array ? userData : null,
      timestamp,
    };
  } catch (err) {
    throw new PlatformError(`NSM attestation document: ${(err as Error).message}`);
  }
}

function pcrHex(fields: NitroDocumentFields, index: number): string {
  const v = fields.pcrs.get(index);
  if (!v || v.length !== 48) throw new PlatformError(`NSM attestation document: PCR${index}`);
  return bytesToHex(v);
}

export interface NitroOptions {
  transport: NsmTransport;
  /** The released 32-byte root of the sealing keys (SEALING_KEY_FILE). */
  sealingRoot: Uint8Array;
}

export async function createNitroPlatform(opts: NitroOptions): Promise<Platform> {
  if (opts.sealingRoot.length !== 32) throw new RangeError('sealingRoot must be 32 bytes');
  const queue = createQueue();
  const attest = (req: AttestationRequest) =>
    queue(async () => {
      const document = decodeAttestationResponse(
        await opts.transport.request(encodeAttestationRequest(req)),
      );
      return { document, fields: parseNitroDocument(document) };
    });
  const self = (await attest({})).fields;
  const measurement = pcrHex(self, 0);
  const signer = pcrHex(self, 8);
  const sealingRoot = Buffer.from(opts.sealingRoot);

  const platform: Platform = {
    name: 'nitro',
    measurement,
    signer,
    async evidence(reportData) {
      assertReportData(reportData);
      const { document, fields } = await attest({ userData: reportData });
      if (!fields.userData || !bytesEqual(fields.userData, reportData))
        throw new PlatformError('NSM attestation document does not carry the report data sent');
      if (pcrHex(fields, 0) !== measurement)
        throw new PlatformError('NSM attestation document: PCR0 differs from the one at start');
      return document;
    },
    sealingKey(policy) {
      return deriveSealingKey(sealingRoot, policy, sealIdentity(platform, policy));
    },
  };
  return platform;
}
