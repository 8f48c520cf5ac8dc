/**
 * A software WebAuthn authenticator for tests: a P-256 key made with node:crypto, attestation
 * `none` (WebAuthn Level 3 §8.7), authenticator data laid out as in §6.1, assertions signed over
 * authenticatorData ‖ SHA-256(clientDataJSON) (§6.3.3). Encoded with @simplewebauthn's CBOR
 * helper. The browser test with Chromium's virtual authenticator is a separate suite.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64u = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  private readonly key: KeyObject;
  private readonly x: Buffer;
  private readonly y: Buffer;
  counter = 0;

  constructor(
    private readonly rpId: string,
    private readonly origin: string,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = privateKey;
    const jwk = publicKey.export({ format: 'jwk' });
    this.x = Buffer.from(jwk.x!, 'base64url');
    this.y = Buffer.from(jwk.y!, 'base64url');
  }

  get id(): string {
    return b64u(this.credentialId);
  }

  private clientData(type: string, challenge: string, origin = this.origin): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /**
   * navigator.credentials.create() for these options: a RegistrationResponseJSON (the user
   * verified unless `uv: false`).
   */
  create(
    options: Record<string, unknown>,
    origin = this.origin,
    opts: { uv?: boolean } = {},
  ): Record<string, unknown> {
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, new Uint8Array(this.x)],
        [-3, new Uint8Array(this.y)],
      ]),
    );
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([
      sha256(this.rpId),
      Buffer.from([opts.uv === false ? 0x41 : 0x45]), // UP | UV | AT, or UP | AT
      Buffer.alloc(4), // counter 0
      Buffer.alloc(16), // AAGUID: none
      idLen,
      this.credentialId,
      Buffer.from(cose),
    ]);
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', new Uint8Array(authData)],
      ]) as never,
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(this.clientData('webauthn.create', String(options.challenge), origin)),
        attestationObject: b64u(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
    };
  }

  /** navigator.credentials.get(): an AuthenticationResponseJSON signed by `signer` (default own). */
  get(
    options: Record<string, unknown>,
    opts: { origin?: string; signer?: KeyObject; userHandle?: string; uv?: boolean } = {},
  ): Record<string, unknown> {
    this.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.counter);
    // UP | UV (0x05), or UP only when the user was not verified (`uv: false`).
    const flags = opts.uv === false ? 0x01 : 0x05;
    const authData = Buffer.concat([sha256(this.rpId), Buffer.from([flags]), counter]);
    const clientData = this.clientData(
      'webauthn.get',
      String(options.challenge),
      opts.origin ?? this.origin,
    );
    const signature = sign(
      'sha256',
      Buffer.concat([authData, sha256(clientData)]),
      opts.signer ?? this.key,
    );
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientData),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(opts.userHandle ? { userHandle: opts.userHandle } : {}),
      },
      clientExtensionResults: {},
    };
  }
}
