/**
 * Registering in the web app with email confirmation on (AUTH_REQUIRE_EMAIL_CONFIRMATION, as
 * every deployment with SMTP_URL), in headless Chromium against the real service: "Create
 * account" answers accepted, the page asks for the mailed code, and "Confirm and sign in" sends
 * it with the password sealed to the enclave (an envelope for `register`, never the password),
 * then signs in. Without /usr/bin/chromium the test fails when CI is set and is skipped otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { mailedCode } from '../helpers/mail.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { CHROMIUM, ensureWebBuild, launchChromium } from '../helpers/web.js';

const skip = !existsSync(CHROMIUM) && !process.env.CI;
const PASSWORD = 'a confirmed browser password';

describe('web app registration with email confirmation, in Chromium', { skip }, () => {
  let ts: TestService;
  let browser: Browser;
  let base = '';

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (CI installs it)`);
    ensureWebBuild();
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
    });
    await ts.service.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(ts.service.app.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await ts?.stop();
  });

  it('Create account asks for the mailed code; the confirmation (password sealed) signs in', async () => {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
    });
    const confirmBodies: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/auth/register/confirm')) confirmBodies.push(r.postData() ?? '');
    });

    await page.goto(`${base}/trust`);
    await page.getByLabel('Simulated vendor key (development only)').fill(ts.vendorKey);
    await page.getByLabel('Expected measurement(s), hex, one per line').fill(ts.measurement);
    await page.getByRole('button', { name: 'Save pins and verify' }).click();
    await page.getByText('Enclave evidence verified in this browser against your pins').waitFor();

    const email = `web-confirm-${Date.now()}@example.com`;
    await page.goto(`${base}/signin`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    await page.getByText(`We mailed a confirmation code to ${email}`).waitFor();

    const code = await mailedCode(ts.dataDir, /confirmation code is (\d{6})/, email);
    await page.getByLabel('Confirmation code from the mail').fill(code);
    await page.getByRole('button', { name: 'Confirm and sign in', exact: true }).click();
    await page.waitForURL(`${base}/keys`);

    assert.equal(confirmBodies.length, 1);
    assert.ok(!confirmBodies[0]!.includes(PASSWORD), 'the password left the browser in the clear');
    assert.deepEqual(Object.keys(JSON.parse(confirmBodies[0]!) as object).sort(), [
      'code',
      'email',
      'envelope',
    ]);
    assert.deepEqual(errors, []);
  });
});
