/**
 * Client attack review (held): an input the SDK refuses before sealing names the field, never
 * its value, in the message and in anything the thrown object carries (a caller logging the
 * error, or the CLI printing it, leaks no secret).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoHelper, encryptPassword, encryptWalletShare } from '../../src/client/index.js';

const PUB = Buffer.alloc(32, 9).toString('base64');
const SECRET = 'SECRET-VALUE-7f3a';

async function thrown(f: () => unknown): Promise<string> {
  try {
    await f();
  } catch (e) {
    const err = e as Error;
    return `${err.message} ${JSON.stringify(err)} ${String(err.stack)} ${JSON.stringify(Object.entries(err))}`;
  }
  assert.fail('expected a refusal');
}

describe('client attack review: refusals carry no secret', () => {
  it('credentials, passwords and wallet shares', async () => {
    const texts = [
      await thrown(() =>
        CryptoHelper.encryptCredentials(
          { exchange: 'binance', apiKey: `${SECRET}\n`.repeat(2000), apiSecret: SECRET },
          PUB,
        ),
      ),
      await thrown(() =>
        CryptoHelper.encryptCredentialsHpke(
          { exchange: 'nope' as 'binance', apiKey: SECRET, apiSecret: SECRET },
          PUB,
        ),
      ),
      await thrown(() =>
        encryptPassword(
          { action: 'login', email: `not-an-email-${SECRET}`, password: SECRET },
          PUB,
        ),
      ),
      await thrown(() =>
        encryptPassword({ action: 'login', email: 'a@b.c', password: SECRET.repeat(200) }, PUB),
      ),
      await thrown(() =>
        encryptWalletShare(
          {
            walletId: `not-a-uuid-${SECRET}`,
            kind: 'device',
            share: new Uint8Array(33).fill(7),
            action: 'sign',
            body: { secret: SECRET },
          },
          PUB,
        ),
      ),
    ];
    for (const t of texts) assert.ok(!t.includes(SECRET), t.slice(0, 400));
  });
});
