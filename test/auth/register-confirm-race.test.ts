/**
 * Registration with confirmation, raced (SECURITY.md, "Sign-in methods: second attack review").
 * A registration of an address replaces an unconfirmed one and mails a new code to the address.
 * Someone who registers the owner's address right after the owner did (their password, the
 * owner's mailbox) had the owner confirm their account: the newest code in the owner's mailbox
 * was theirs, and it activated the pending account whatever password it held, so they signed in
 * to an account confirmed by the owner's mailbox, which the owner would go on to use. The
 * confirmation now also takes the registration's password, checked by the enclave against the
 * pending account's.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

describe('registration confirmation raced by a second registration of the address', () => {
  let ts: TestService;
  const post = (url: string, payload: object) =>
    ts.service.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
  before(async () => {
    ts = await startTestService('pglite', {
      AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
      AUTH_LOGIN_MAX_PER_IP: '100000',
      AUTH_REGISTER_MAX_PER_IP: '100000',
    });
  });
  after(async () => ts?.stop());

  const CONFIRM = /confirmation code is (\d{6})/;
  /** A confirmation code mailed to `email` that is not in `seen` (two mails may share a ms). */
  async function newCode(email: string, seen: string[]): Promise<string> {
    for (let i = 0; i < 1500; i++) {
      const dir = join(ts.dataDir, 'mail');
      let files: string[] = [];
      try {
        files = readdirSync(dir);
      } catch {
        // none written yet
      }
      for (const f of files) {
        const text = readFileSync(join(dir, f), 'utf8');
        const m = CONFIRM.exec(text);
        if (m && text.includes(`To: ${email}`) && !seen.includes(m[1]!)) return m[1]!;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no new confirmation mail');
  }

  it("the owner's mailbox confirms only the registration whose password it shows", async () => {
    const email = 'raced@example.com';
    const mine = 'the owner chose this password';
    const theirs = 'the attacker chose this one';
    assert.equal((await post('/auth/register', { email, password: mine })).statusCode, 202);
    const first = await newCode(email, []);
    assert.equal((await post('/auth/register', { email, password: theirs })).statusCode, 202);
    // The newest mail (the attacker's registration) is what the owner types.
    const code = await newCode(email, [first]);
    const confirmed = await post('/auth/register/confirm', { email, code, password: mine });
    assert.equal(confirmed.statusCode, 401, confirmed.body);
    assert.equal(confirmed.json().error.code, 'AUTH_INVALID_CREDENTIALS');
    const attacker = await post('/auth/login', { email, password: theirs });
    assert.equal(attacker.statusCode, 401, attacker.body);

    // The owner registers again (replacing the attacker's) and confirms with their password.
    assert.equal((await post('/auth/register', { email, password: mine })).statusCode, 202);
    const again = await newCode(email, [first, code]);
    const ok = await post('/auth/register/confirm', { email, code: again, password: mine });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal((await post('/auth/login', { email, password: mine })).statusCode, 200);
    assert.equal((await post('/auth/login', { email, password: theirs })).statusCode, 401);
  });
});
