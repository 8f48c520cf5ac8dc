/**
 * The exchange's own account/user id, as each API reports it (issue 12 item 5): the enclave
 * reads it over the same TLS session as the fills and commits to it in the signed payload, so a
 * result names the exchange account it describes. Numbers (Binance `uid`, Bybit `userID`) and
 * strings (OKX `uid`, Coinbase `portfolio_uuid`) both become the id's decimal/string text.
 */
import { z } from 'zod';
import { ExchangeAccountIdSchema } from '../../protocol/aggregates.js';

export const AccountIdWireSchema = z
  .union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string()])
  .transform((v) => String(v))
  .pipe(ExchangeAccountIdSchema);
