/**
 * The wallet keyring: the `wallet` row of the keyring purposes (keyring/purposes.ts), sealed on
 * its own blob and generation through the same slot and sealer as the credential and auth
 * keyrings, so keyrings sealed before wallets existed load unchanged and the wallet keyring is
 * generated (and handed to the host to store) on first need, by `wallet.init`.
 *
 * - `masterKey` derives each user's DEK for server shares at rest (server-share.ts).
 * - `macKey` authenticates what the host stores on the enclave's behalf: the wallet record
 *   (generation, rules, recovery state, accounts) and the daily spend counters (state-mac.ts).
 *
 * Neither key rotates: every stored server share and MAC depends on them, and the sealer already
 * re-wraps the blob on a platform or policy change. Its generation stays 1.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { base64Bytes, base64ToBytes, bytesToBase64, utf8 } from '../../protocol/encoding.js';

const WalletKeyringDataSchema = z
  .object({
    v: z.literal(1),
    kind: z.literal('wallet'),
    generation: z.number().int().positive(),
    master_key: base64Bytes(32),
    mac_key: base64Bytes(32),
  })
  .strict();

export class WalletKeyring {
  private constructor(
    readonly generation: number,
    readonly masterKey: Uint8Array,
    readonly macKey: Uint8Array,
  ) {}

  static generate(): WalletKeyring {
    return new WalletKeyring(1, new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(32)));
  }

  serialize(): Uint8Array {
    return utf8.encode(
      JSON.stringify({
        v: 1,
        kind: 'wallet',
        generation: this.generation,
        master_key: bytesToBase64(this.masterKey),
        mac_key: bytesToBase64(this.macKey),
      }),
    );
  }

  static deserialize(bytes: Uint8Array): WalletKeyring {
    const d = WalletKeyringDataSchema.parse(JSON.parse(utf8.decode(bytes)));
    return new WalletKeyring(d.generation, base64ToBytes(d.master_key), base64ToBytes(d.mac_key));
  }
}
