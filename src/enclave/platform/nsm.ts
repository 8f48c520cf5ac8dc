/**
 * The AWS Nitro Secure Module (NSM) API as the enclave uses it: CBOR requests and responses in
 * the shape of aws-nitro-enclaves-nsm-api (serde's externally tagged enums):
 *   request   {"Attestation": {"user_data": bstr|null, "nonce": bstr|null, "public_key": bstr|null}}
 *   response  {"Attestation": {"document": bstr}}  or  {"Error": "<ErrorCode>"}
 * Sizes are capped as the Linux driver caps them (include/uapi/linux/nsm.h: request 0x1000,
 * response 0x3000 bytes).
 *
 * Node cannot issue the NSM_IOCTL_RAW ioctl on /dev/nsm without a native addon, so the request
 * travels through an `NsmTransport`. The product transport is a Unix socket to the tiny helper
 * in deploy/nitro/nsm-helper.c, which runs inside the same enclave image (so it is measured in
 * PCR0/PCR2): per connection it reads one u32-big-endian-length-prefixed request, issues the
 * ioctl, and writes the response the same way. Tests inject a transport that answers with
 * recorded attestation documents.
 */
import { decode, encode } from 'cborg';
import { connect } from 'node:net';
import { PlatformError } from './device.js';

export const NSM_REQUEST_MAX_SIZE = 0x1000;
export const NSM_RESPONSE_MAX_SIZE = 0x3000;

export interface NsmTransport {
  /** Sends one CBOR request and resolves to the CBOR response. */
  request(cbor: Uint8Array): Promise<Uint8Array>;
}

export interface AttestationRequest {
  userData?: Uint8Array;
  nonce?: Uint8Array;
  publicKey?: Uint8Array;
}

export function encodeAttestationRequest(req: AttestationRequest): Uint8Array {
  // NSM limits each field to 1024 bytes (nsm-api: MAX_USER_DATA_SIZE and friends).
  for (const [name, v] of Object.entries(req))
    if (v !== undefined && v.length > 1024) throw new RangeError(`${name}: at most 1024 bytes`);
  return encode({
    Attestation: {
      user_data: req.userData ?? null,
      nonce: req.nonce ?? null,
      public_key: req.publicKey ?? null,
    },
  });
}

/** serde_cbor may write a Vec<u8> as a byte string or as an array of small integers. */
function asBytes(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255))
    return Uint8Array.from(v as number[]);
  return null;
}

/** The attestation document (COSE_Sign1 bytes) in an NSM response, or a PlatformError. */
export function decodeAttestationResponse(cbor: Uint8Array): Uint8Array {
  if (cbor.length > NSM_RESPONSE_MAX_SIZE) throw new PlatformError('NSM response too large');
  let res: unknown;
  try {
    res = decode(cbor);
  } catch {
    throw new PlatformError('NSM response is not CBOR');
  }
  if (res === null || typeof res !== 'object' || Array.isArray(res))
    throw new PlatformError('NSM response is not a map');
  const r = res as Record<string, unknown>;
  if ('Error' in r)
    throw new PlatformError(`NSM error: ${typeof r.Error === 'string' ? r.Error : 'unknown'}`);
  const att = r.Attestation as Record<string, unknown> | undefined;
  const document = att && typeof att === 'object' ? asBytes(att.document) : null;
  if (!document || document.length === 0)
    throw new PlatformError('NSM response has no attestation document');
  return document;
}

/** One request per connection to the helper socket, with a deadline. */
export function createNsmSocketTransport(socketPath: string, timeoutMs = 10_000): NsmTransport {
  return {
    request(cbor) {
      if (cbor.length > NSM_REQUEST_MAX_SIZE) throw new RangeError('NSM request too large');
      return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const fail = (why: string) => {
          conn.destroy();
          reject(new PlatformError(`NSM_HELPER_SOCKET ${socketPath}: ${why}`));
        };
        const conn = connect(socketPath);
        conn.setTimeout(timeoutMs, () => fail('timed out'));
        conn.on('error', (err) => fail((err as NodeJS.ErrnoException).code ?? 'error'));
        conn.on('data', (chunk) => {
          received += chunk.length;
          if (received > 4 + NSM_RESPONSE_MAX_SIZE) return fail('response too large');
          chunks.push(chunk);
        });
        conn.on('end', () => {
          const all = Buffer.concat(chunks);
          if (all.length < 4 || all.readUInt32BE(0) !== all.length - 4)
            return fail('truncated response');
          conn.destroy();
          resolve(new Uint8Array(all.subarray(4)));
        });
        const header = Buffer.alloc(4);
        header.writeUInt32BE(cbor.length);
        conn.end(Buffer.concat([header, cbor]));
      });
    },
  };
}
