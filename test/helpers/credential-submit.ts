/**
 * A credential envelope sealed to an enclave key with a chosen `issued_at`, and its submission
 * straight to the handler (the replay and freshness tests).
 */
import { HANDLERS } from '../../src/enclave/methods/index.js';
import { noblePrimitives } from '../../src/client/noble-primitives.js';
import { utf8 } from '../../src/protocol/encoding.js';
import { sealEnvelopeV1, type EnvelopeV1 } from '../../src/protocol/envelope/v1.js';
import type { TestEnclave } from './enclave-state.js';

export function seal(pub: Uint8Array, issuedAt: number): EnvelopeV1 {
  return sealEnvelopeV1(
    noblePrimitives,
    pub,
    utf8.encode(
      JSON.stringify({ exchange: 'binance', apiKey: 'k', apiSecret: 's', issued_at: issuedAt }),
    ),
  );
}

export const submit = (t: TestEnclave, e: EnvelopeV1) =>
  Promise.resolve(
    HANDLERS['credential.submit'](t.state, {
      envelope: e,
      metadata: { exchange: 'binance', label: 'main', ttl: 600 },
    }),
  );
