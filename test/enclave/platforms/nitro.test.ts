/**
 * AWS Nitro platform: NSM request/response CBOR handling and the platform on top of it, with
 * recorded attestation documents (test/vectors/data/attestation/platform/, fields from the
 * samples' EXPECTED.md). The ioctl itself needs Nitro hardware (deploy/nitro/nsm-helper.c).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decode, encode } from 'cborg';
import { PlatformError } from '../../../src/enclave/platform/device.js';
import { createNitroPlatform, parseNitroDocument } from '../../../src/enclave/platform/nitro.js';
import {
  createNsmSocketTransport,
  decodeAttestationResponse,
  encodeAttestationRequest,
} from '../../../src/enclave/platform/nsm.js';
import { bytesToHex } from '../../../src/protocol/encoding.js';
import { recordedNsm, sample } from '../../fakes/tee-devices.js';

const PCR0_2022 =
  'f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b';
const PCR8_2022 =
  '8790eb3cce6c83d07e84b126dc61ca923333d6f66615c4a79157de48c5ab2418bdc60746ea7b7afbff03a1c6210201cb';
const sealingRoot = new Uint8Array(32).fill(3);

describe('NSM API messages', () => {
  it('encodes an Attestation request as nsm-api does (externally tagged, nulls for unset)', () => {
    const rd = new Uint8Array(64).fill(9);
    const req = decode(encodeAttestationRequest({ userData: rd }));
    assert.deepEqual(req, { Attestation: { nonce: null, public_key: null, user_data: rd } });
    assert.throws(() => encodeAttestationRequest({ nonce: new Uint8Array(1025) }), RangeError);
  });

  it('takes the document out of a response, as a byte string or an integer array', () => {
    const doc = sample('nitro_2022-10-13.bin');
    assert.deepEqual(decodeAttestationResponse(encode({ Attestation: { document: doc } })), doc);
    const asArray = encode({ Attestation: { document: [...doc.subarray(0, 10)] } });
    assert.deepEqual(decodeAttestationResponse(asArray), doc.subarray(0, 10));
  });

  it('turns an NSM error, garbage and an empty response into PlatformErrors', () => {
    for (const [bytes, re] of [
      [encode({ Error: 'InvalidArgument' }), /NSM error: InvalidArgument/],
      [new Uint8Array([0xff, 0x00]), /not CBOR/],
      [encode([1, 2]), /not a map/],
      [encode({ Attestation: {} }), /no attestation document/],
      [encode({ DescribePCR: { lock: true, data: new Uint8Array(48) } }), /no attestation/],
    ] as const)
      assert.throws(
        () => decodeAttestationResponse(bytes),
        (e: Error) => {
          return e instanceof PlatformError && re.test(e.message);
        },
      );
  });

  it('reads PCRs and user_data from recorded documents', () => {
    const f = parseNitroDocument(sample('nitro_2022-10-13.bin'));
    assert.equal(bytesToHex(f.pcrs.get(0)!), PCR0_2022);
    assert.equal(f.timestamp, 1665651482136);
    const d = parseNitroDocument(sample('nitro_debug_2022-10-12.bin'));
    assert.equal(new TextDecoder().decode(d.userData!), 'hello, world!');
    assert.equal(bytesToHex(d.pcrs.get(0)!), '0'.repeat(96)); // debug mode
    assert.throws(
      () => parseNitroDocument(sample('nitro_2022-10-13.bin').subarray(0, 50)),
      /NSM attestation document/,
    );
  });
});

describe('nitro platform', () => {
  it('takes PCR0 as measurement and PCR8 as signer from a document at start', async () => {
    const nsm = recordedNsm(sample('nitro_2022-10-13.bin'));
    const p = await createNitroPlatform({ transport: nsm.transport, sealingRoot });
    assert.equal(p.name, 'nitro');
    assert.equal(p.measurement, PCR0_2022);
    assert.equal(p.signer, PCR8_2022);
    assert.deepEqual(decode(nsm.requests[0]!), {
      Attestation: { nonce: null, public_key: null, user_data: null },
    });
  });

  it('sends the report data as user_data and refuses a document without it', async () => {
    // No recorded document carries 64 bytes of user_data, so the check must refuse them all.
    const nsm = recordedNsm(sample('nitro_2024-09-07.bin'));
    const p = await createNitroPlatform({ transport: nsm.transport, sealingRoot });
    const rd = new Uint8Array(64).fill(0x42);
    await assert.rejects(async () => p.evidence(rd), /does not carry the report data sent/);
    assert.deepEqual(
      (decode(nsm.requests[1]!) as { Attestation: { user_data: Uint8Array } }).Attestation
        .user_data,
      rd,
    );
  });

  it('refuses a document whose user_data only starts with the report data', async () => {
    const doc = sample('nitro_2024-09-07.bin');
    const fields = parseNitroDocument(doc);
    assert.equal(fields.userData!.length, 1024); // 1024 bytes of 0x01
    const p = await createNitroPlatform({ transport: recordedNsm(doc).transport, sealingRoot });
    await assert.rejects(
      async () => p.evidence(fields.userData!.subarray(0, 64)),
      /does not carry/,
    );
  });

  it('returns the document bytes when user_data is the report data', async () => {
    // No recorded document has 64 bytes of user_data, so this one is the recorded 2022 document
    // with its payload's user_data replaced (its signature no longer verifies; the platform
    // does not check it, the SDK's verifier does).
    const rd = new Uint8Array(64).fill(0x42);
    const tags: ((x: unknown) => unknown)[] = [];
    const cose = decode(sample('nitro_2022-10-13.bin'), { useMaps: true, tags }) as unknown[];
    const payload = decode(cose[2] as Uint8Array, { useMaps: true }) as Map<string, unknown>;
    payload.set('user_data', rd);
    const doc = encode([cose[0], cose[1], encode(payload), cose[3]]);
    const p = await createNitroPlatform({ transport: recordedNsm(doc).transport, sealingRoot });
    assert.deepEqual(await p.evidence(rd), doc);
  });

  it('binds sealing keys to the policy', async () => {
    const p = await createNitroPlatform({
      transport: recordedNsm(sample('nitro_2022-10-13.bin')).transport,
      sealingRoot,
    });
    assert.notDeepEqual(p.sealingKey('measurement'), p.sealingKey('signer'));
    assert.equal(p.sealingKey('signer').length, 32);
  });
});

describe('NSM helper socket transport', () => {
  it('frames one request and one response, u32 big-endian length first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsm-'));
    const path = join(dir, 'nsm.sock');
    const doc = sample('nitro_2022-10-13.bin');
    const seen: Buffer[] = [];
    const server = createServer((c) => {
      const chunks: Buffer[] = [];
      c.on('data', (d) => chunks.push(d));
      c.on('end', () => {
        seen.push(Buffer.concat(chunks));
        const body = Buffer.from(encode({ Attestation: { document: doc } }));
        const len = Buffer.alloc(4);
        len.writeUInt32BE(body.length);
        c.end(Buffer.concat([len, body]));
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const p = await createNitroPlatform({
        transport: createNsmSocketTransport(path),
        sealingRoot,
      });
      assert.equal(p.measurement, PCR0_2022);
      const req = seen[0]!;
      assert.equal(req.readUInt32BE(0), req.length - 4);
      assert.ok('Attestation' in (decode(req.subarray(4)) as object));
    } finally {
      server.close();
    }
  });

  it('names the socket when the helper is not running', async () => {
    const t = createNsmSocketTransport(join(tmpdir(), 'no-such-nsm.sock'));
    await assert.rejects(
      t.request(new Uint8Array(1)),
      /NSM_HELPER_SOCKET .*no-such-nsm\.sock: ENOENT/,
    );
  });

  it('refuses a truncated response', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsm-'));
    const path = join(dir, 'nsm.sock');
    const server = createServer((c) => c.on('data', () => c.end(Buffer.from([0, 0, 0, 9, 1]))));
    await new Promise<void>((r) => server.listen(path, r));
    try {
      await assert.rejects(
        createNsmSocketTransport(path).request(new Uint8Array(1)),
        /truncated response/,
      );
    } finally {
      server.close();
    }
  });
});
