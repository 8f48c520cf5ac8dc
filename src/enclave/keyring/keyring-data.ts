/** The plaintext form of a keyring, as sealed. Version 1. Only keyring.ts reads or writes it. */
import { z } from 'zod';
import { base64Bytes } from '../../protocol/encoding.js';

const Seconds = z.number().int().nonnegative();

export const KeyringDataSchema = z
  .object({
    v: z.literal(1),
    generation: z.number().int().positive(),
    credential_keys: z
      .array(
        z
          .object({
            private_key: base64Bytes(32),
            created_at: Seconds,
            retired_at: Seconds.nullable(),
          })
          .strict(),
      )
      .min(1),
    result_key: base64Bytes(32),
    log_key: base64Bytes(32),
    binding_key: base64Bytes(32),
  })
  .strict();
export type KeyringData = z.infer<typeof KeyringDataSchema>;
