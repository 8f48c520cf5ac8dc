/**
 * The web app (web/) driven in headless Chromium (playwright-core, the system /usr/bin/chromium)
 * against the real service (simulated enclave, PGlite, authentication on) and the fake exchange,
 * as a new user would: the simulated banner and a refused attestation before anything is
 * pinned; pinning the vendor key and the measurement; registering (keyboard only); adding an
 * exchange key; requesting a report and seeing its progress (the fake exchange holds a page
 * until the bar has shown it); the signed figures and checks; downloading the signed JSON and
 * verifying it on the public /verify page in a fresh browser with no account; a tampered copy
 * refused; the share link; a wallet created (device share in IndexedDB under a passphrase) and a
 * message signed, checked against the address here; the log explorer; passkeys through the CDP
 * virtual authenticator (added behind the step-up dialog, then a sign-in), an email-code sign-in
 * and no SIWE without a wallet; TOTP enrolled on /account (codes computed here), a TOTP step-up
 * for a wallet policy, sign-in and step-up with recovery codes; wallet export (checked with viem)
 * and recovery start/cancel/completion; the cluster members; a 429 counted in the progress bar; a page opened
 * from the navigation has the focus before the next key (frames held). The web app's attack
 * review (SECURITY.md): typed secrets and tokens in no URL, clear request, storage or console; a
 * held trust check under replaced pins, and pins replaced in another tab, never leave a
 * "verified"; the log page's unpinned note, and a log under another key shown once does not let
 * the first be rolled back unseen; two tabs sharing a session (one opened from the other) refresh
 * in turn and neither is signed out; a refresh answered 503 or 429 keeps the session; a tampered
 * entries listing is a warning on the log page, not "no entries". Every page: no console
 * error (a CSP violation is one) and axe-core finds no serious or critical violation.
 *
 * WEB_SCREENSHOTS=1 saves a screenshot of each page to docs/web/ (docs/web-app.md shows them).
 * Without /usr/bin/chromium the test fails when CI is set and is skipped otherwise.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { URI, TOTP } from 'otpauth';
import { verifyMessage } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { startFakeExchange, type FakeExchange } from '../../devtools/fake-exchange/index.js';
import { mailedCode } from '../helpers/mail.js';
import { CryptoHelper, encryptPassword } from '../../src/client/index.js';
import { verifiedAttestation, uniqueCredentials } from '../helpers/client.js';
import { seededDataDir, startTestService, type TestService } from '../helpers/service.js';
import { startForSubject } from '../helpers/start-for-subject.js';
import { ensureWebBuild } from '../helpers/web.js';
import { aggregatesSubject } from '../../src/protocol/aggregates.js';
import { cliSetOperator } from '../auth/operator-helper.js';

const CHROMIUM = '/usr/bin/chromium';
const AXE = readFileSync('node_modules/axe-core/axe.min.js', 'utf8');
const SHOTS = process.env.WEB_SCREENSHOTS === '1';
const skip = !existsSync(CHROMIUM) && !process.env.CI;

const API_KEY = 'web-app-key';
const API_SECRET = 'web-app-secret-0123456789';
const EMAIL = 'trader@example.com';
const PASSWORD = 'correct horse battery staple';

interface Watched {
  page: Page;
  errors: string[];
}

describe('web app in Chromium', { skip }, () => {
  let ts: TestService;
  let fake: FakeExchange;
  let browser: Browser;
  let base: string;
  /** The same service as `localhost`: the WebAuthn relying party (an IP address cannot be one). */
  let local: string;
  let release: () => void = () => undefined;
  let held = 0;
  const gate = new Promise<void>((ok) => (release = ok));
  let reachedHold: () => void = () => undefined;
  const atHold = new Promise<void>((ok) => (reachedHold = ok));

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing (CI installs it)`);
    ensureWebBuild();
    let requests = 0;
    let limited = false;
    fake = await startFakeExchange({
      // The first page of fills is refused once (429, Retry-After: 1 s): the bar counts the wait.
      tooManyRequests: (req) => {
        if (limited || !req.path.includes('myTrades')) return undefined;
        limited = true;
        return 1;
      },
      accounts: [{ apiKey: API_KEY, secret: API_SECRET, seed: 16, fills: 3000, days: 60 }],
      // The second request for fills (the retry after the 429) waits until the test has seen
      // the progress bar move.
      hold: async (req) => {
        if (!req.path.includes('myTrades')) return;
        requests += 1;
        if (requests === 2) {
          held += 1;
          reachedHold();
          await gate;
        }
      },
    });
    // A known port, so AUTH_ISSUER (and from it the passkeys' RP id and origin) names it.
    const port = await new Promise<number>((ok) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => ok(p));
      });
    });
    ts = await startTestService('pglite', {
      AUTH_DISABLED_FOR_DEVELOPMENT: 'false',
      AUTH_ISSUER: `http://localhost:${port}`,
      BINANCE_BASE_URL: fake.url,
      // Always a job to poll, so the page shows its progress.
      AGGREGATES_WAIT_MS: '0',
      // Recorded once ready: the operator view lists this instance among the cluster members.
      CLUSTER_ADVERTISE_URL: `http://localhost:${port}`,
      // Every test registers its own account, all from 127.0.0.1 (the default is 10 an hour).
      AUTH_REGISTER_MAX_PER_IP: '100',
      // A wallet recovery's time-lock, short enough to complete one in the test.
      WALLET_RECOVERY_DELAY_SECONDS: '2',
    });
    await ts.service.app.listen({ host: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
    local = `http://localhost:${port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    release();
    await browser?.close();
    await ts?.stop();
    await fake?.close();
  });

  async function open(context: BrowserContext): Promise<Watched> {
    return watch(await context.newPage());
  }

  /** Collects `page`'s errors: uncaught, console errors and HTTP answers of 400 and above. */
  function watch(page: Page): Watched {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} at ${m.location().url}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    return { page, errors };
  }

  /** axe-core on the page as it is: no serious or critical violation. */
  async function axe(page: Page, name: string): Promise<void> {
    // Runtime.evaluate is not subject to the page's CSP (an injected <script> would be).
    await page.evaluate(AXE);
    const violations = (await page.evaluate(async () => {
      const r = await (
        globalThis as unknown as {
          axe: {
            run: () => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }>;
          };
        }
      ).axe.run();
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
    })) as { id: string; impact: string }[];
    const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(bad, [], `${name}: axe violations ${JSON.stringify(bad)}`);
  }

  async function shot(page: Page, name: string): Promise<void> {
    if (!SHOTS) return;
    mkdirSync('docs/web', { recursive: true });
    await page.screenshot({ path: `docs/web/${name}.png`, fullPage: true });
  }

  async function go(w: Watched, path: string, heading: string | RegExp): Promise<void> {
    await w.page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: heading })
      .click();
    await w.page.waitForURL(`${base}${path}`);
  }

  /** Tab (only the keyboard) until `selector` has the focus; at most `max` presses. */
  async function tabTo(page: Page, selector: string, max = 40, key = 'Tab'): Promise<void> {
    for (let i = 0; i < max; i++) {
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
      await page.keyboard.press(key);
    }
    assert.fail(`${selector} is not reachable with ${key}`);
  }

  /** Pins the simulated vendor key and the measurement on `origin`'s trust page. */
  async function pin(page: Page, origin = base): Promise<void> {
    await page.goto(`${origin}/trust`);
    await page.getByLabel('Simulated vendor key (development only)').fill(ts.vendorKey);
    await page.getByLabel('Expected measurement(s), hex, one per line').fill(ts.measurement);
    await page.getByRole('button', { name: 'Save pins and verify' }).click();
    await page.getByText('Enclave evidence verified in this browser against your pins').waitFor();
  }

  /** A new browser (context) with one watched tab, its pins set as `pin` sets them. */
  async function pinnedTab(): Promise<{ context: BrowserContext; w: Watched; page: Page }> {
    const context = await browser.newContext();
    const w = await open(context);
    await pin(w.page);
    return { context, w, page: w.page };
  }

  /**
   * Registers (`Create account`) or signs in with the password on the sign-in page, reached from
   * the navigation or opened at `from`.
   */
  async function passwordSignIn(
    w: Watched,
    email: string,
    button: 'Create account' | 'Sign in',
    from?: string,
  ): Promise<void> {
    if (from) await w.page.goto(from);
    else await go(w, '/signin', 'Sign in');
    await w.page.getByLabel('Email', { exact: true }).fill(email);
    await w.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await w.page.getByRole('button', { name: button, exact: true }).click();
    await w.page.waitForURL(`${base}/keys`);
  }

  /** A stale access token: the next call refreshes it, and a refreshed token has no recent sign-in. */
  async function staleToken(page: Page, token = 'expired'): Promise<void> {
    await page.evaluate((t) => {
      const key = 'cloister.account.v1';
      const a = JSON.parse(sessionStorage.getItem(key) ?? '{}') as { accessToken?: string };
      a.accessToken = t;
      sessionStorage.setItem(key, JSON.stringify(a));
    }, token);
  }

  /** Chromium's virtual authenticator (CDP): a platform passkey that verifies the user. */
  async function authenticator(context: BrowserContext, page: Page) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });
    return { cdp, authenticatorId };
  }

  let signedFile = '';
  let shareHref = '';

  it('a new user: simulated banner, refused until pinned, registers with the keyboard, adds a key, gets a verified report', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    const w = await open(context);
    const { page } = w;
    await page.goto(`${base}/`);
    await page.getByTestId('simulated-banner').waitFor();
    await page.getByText('Enclave evidence REFUSED in this browser').waitFor();
    assert.equal(await page.getByTestId('trust-platform').textContent(), 'simulated');
    await axe(page, 'sign in (unpinned)');

    // Pin the simulated vendor key and the fake exchange host; then the measurement reported.
    await go(w, '/trust', 'Trust');
    await page.getByLabel('Simulated vendor key (development only)').fill(ts.vendorKey);
    await page
      .getByLabel('Also accept figures from these exchange API hosts')
      .fill(new URL(fake.url).host);
    await page.getByRole('button', { name: 'Save pins and verify' }).click();
    await page.getByTestId('pin-reported').waitFor();
    assert.equal(await page.getByTestId('reported-measurement').textContent(), ts.measurement);
    await axe(page, 'trust');
    await shot(page, 'trust');
    await page.getByTestId('pin-reported').click();
    await page.getByText('Enclave evidence verified in this browser against your pins').waitFor();

    // Register with the keyboard only.
    await go(w, '/signin', 'Sign in');
    await axe(page, 'sign in');
    await shot(page, 'signin');
    await tabTo(page, '#si-email');
    await page.keyboard.type(EMAIL);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await tabTo(page, '[data-testid="register"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/keys`);

    // Add the exchange key (submitted with Enter from the last field).
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByLabel('API secret').fill(API_SECRET);
    await page.getByLabel('Lifetime (seconds)').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('sessions').getByRole('cell', { name: 'active' }).waitFor();
    await axe(page, 'keys');
    await shot(page, 'keys');
    // The page sealed the signed-in account as the key's owner: a host that moved the row to
    // another user gets no job started for them (envelope-v1.md).
    const [added] = (
      await ts.service.db.query<{ id: string; user_id: string }>(
        'SELECT id, user_id FROM sessions ORDER BY created_at DESC LIMIT 1',
      )
    ).rows;
    const someoneElse = aggregatesSubject({ userId: randomUUID() });
    assert.equal(await startForSubject(ts, added!.id, someoneElse), 'CREDENTIAL_SUBJECT_MISMATCH');

    // Request a report: the second page of fills is held until the bar has shown progress.
    // To the report with the keyboard: back through the page to the main navigation.
    await tabTo(page, 'nav a[href="/report"]', 60, 'Shift+Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/report`);
    await page.getByLabel('From (UTC day)').fill('2026-09-05');
    await page.getByLabel('To (UTC day, exclusive)').fill('2026-11-01');
    await page.getByLabel(/^Symbols/).fill('BTC/USDT, ETH/USDT');
    await page.getByRole('button', { name: 'Request signed report' }).click();
    await page.getByTestId('progress').waitFor();
    // The retry after the 429 is being held: what the bar shows next happened before it.
    await atHold;
    await page.waitForFunction(() =>
      /^[1-9]\d* exchange requests/.test(
        document.querySelector('[data-testid="progress-text"]')?.textContent ?? '',
      ),
    );
    assert.equal(held, 1, 'the fake exchange held a request while the bar showed progress');
    // The 429 the fake answered first, waited out by the enclave, is in the job's progress.
    await page.waitForFunction(() =>
      / 1 rate-limit wait \(1\.0 s\)$/.test(
        document.querySelector('[data-testid="progress-text"]')?.textContent ?? '',
      ),
    );
    await axe(page, 'report (running)');
    await shot(page, 'report-progress');
    release();
    await page.getByTestId('verdict').waitFor({ timeout: 120_000 });
    assert.match(
      (await page.getByTestId('verdict').textContent()) ?? '',
      /^VERIFIED: signed by the attested enclave and included in the log/,
    );
    const checks = (await page.getByTestId('checks').textContent()) ?? '';
    assert.match(checks, /✓ Signature by the attested enclave/);
    assert.match(checks, /✓ Included in the transparency log/);
    assert.match((await page.getByTestId('coverage').textContent()) ?? '', /covers only 2 symbols/);
    assert.match((await page.getByTestId('figures').textContent()) ?? '', /BTC\/USDT, ETH\/USDT/);
    // v3: the equity curve and daily PnL from the signed daily series, then PnL and volume by symbol.
    assert.equal(await page.getByTestId('daily-charts').locator('canvas').count(), 2);
    assert.ok(
      await page
        .getByRole('img', { name: /^Equity curve \(cumulative realized PnL\)/ })
        .isVisible(),
    );
    assert.ok(await page.getByRole('img', { name: /^Daily realized PnL/ }).isVisible());
    assert.equal(await page.locator('.chart canvas').count(), 4, 'four uPlot charts');
    await axe(page, 'report (done)');
    await shot(page, 'report');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download signed JSON' }).click(),
    ]);
    signedFile = readFileSync((await download.path())!, 'utf8');
    assert.ok(JSON.parse(signedFile).aggregates_signed.signature);
    await page.getByRole('button', { name: 'Share link' }).click();
    shareHref = (await page.getByTestId('share-link').getAttribute('href')) ?? '';
    assert.match(shareHref, /\/verify#result=[A-Za-z0-9_-]+$/);

    // The log explorer lists this account's entries, each with its inclusion proof verified.
    await go(w, '/log', 'Log');
    const own = page.getByTestId('own-entries');
    await own.getByRole('cell', { name: 'credential.submitted' }).waitFor();
    await own.getByRole('cell', { name: 'aggregates.signed' }).waitFor();
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  it('the public verify page, in a fresh browser with no account: the result verifies, a tampered copy is refused', async () => {
    assert.ok(signedFile, 'needs the report test');
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    // A verifier trusts the simulated vendor key and the fake host too, but pins no measurement.
    await page.goto(`${base}/trust`);
    await page.getByLabel('Simulated vendor key (development only)').fill(ts.vendorKey);
    await page
      .getByLabel('Also accept figures from these exchange API hosts')
      .fill(new URL(fake.url).host);
    await page.getByRole('button', { name: 'Save pins and verify' }).click();
    await page.getByTestId('pin-reported').waitFor();

    await go(w, '/verify', 'Verify');
    await page.getByLabel('Drop a signed result here, or choose the file').setInputFiles({
      name: 'result.json',
      mimeType: 'application/json',
      buffer: Buffer.from(signedFile),
    });
    await page.getByTestId('verdict').waitFor();
    assert.match(
      (await page.getByTestId('verdict').textContent()) ?? '',
      /^VERIFIED \(measurement not pinned in this browser\): signed by an attested enclave/,
      (await page.getByTestId('checks').textContent()) ?? '',
    );
    assert.match(
      (await page.getByTestId('checks').textContent()) ?? '',
      /not pinned in this browser/,
    );
    await axe(page, 'verify (valid)');
    await shot(page, 'verify');

    const tampered = JSON.parse(signedFile);
    // A figure changed within the schema: only the signature and the log digest can tell.
    tampered.aggregates_signed.payload.trades += 1;
    await page.getByLabel('Drop a signed result here, or choose the file').setInputFiles({
      name: 'tampered.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(tampered)),
    });
    await page.getByText('REFUSED: this result does not verify').waitFor();
    const checks = (await page.getByTestId('checks').textContent()) ?? '';
    assert.match(checks, /✗ Signature by the attested enclave: signature: does not verify/);
    assert.match(checks, /✗ Included in the transparency log: entry: digest is not the digest/);
    await axe(page, 'verify (tampered)');
    await shot(page, 'verify-tampered');

    // The share link opens the same check.
    await page.goto(shareHref);
    await page.getByText(/^VERIFIED \(measurement not pinned in this browser\)/).waitFor();
    await page.goto(`${base}/`);
    await page.goto(shareHref);
    await page.getByText(/^VERIFIED \(measurement not pinned in this browser\)/).waitFor();
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  it('a wallet: created with the device share in IndexedDB under a passphrase, the recovery share downloaded, a message signed', async () => {
    const context = await browser.newContext({ acceptDownloads: true });
    const w = await open(context);
    const { page } = w;
    await pin(page);
    await passwordSignIn(w, 'holder@example.com', 'Create account');

    assert.equal(
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Operator' })
        .count(),
      0,
      'no operator view without the role',
    );
    await go(w, '/wallet', 'Wallets');
    await page.getByLabel('Wallet label').fill('savings');
    await page.getByLabel('Device passphrase', { exact: true }).fill('a long device passphrase');
    const [recovery] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Create wallet' }).click(),
    ]);
    const recoveryFile = JSON.parse(readFileSync((await recovery.path())!, 'utf8'));
    assert.equal(recoveryFile.kind, 'recovery');
    const address = (await page.getByTestId('eth-address').first().textContent()) ?? '';
    assert.match(address, /^0x[0-9a-fA-F]{40}$/);
    // The device share at rest is ciphertext: no raw share bytes in IndexedDB.
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((ok, no) => {
        const r = indexedDB.open('cloister-wallet-shares');
        r.onsuccess = () => ok(r.result);
        r.onerror = () => no(r.error);
      });
      const all = await new Promise<unknown[]>((ok) => {
        const r = db.transaction('shares').objectStore('shares').getAll();
        r.onsuccess = () => ok(r.result);
      });
      return JSON.stringify(all);
    });
    assert.match(stored, /"kdf":"PBKDF2-SHA256"/);
    assert.doesNotMatch(stored, /"share":/);
    await axe(page, 'wallets');
    await shot(page, 'wallets');
    // The addresses are the host's list until checked with the device share.
    await page.getByText('Addresses not verified yet').waitFor();
    await page.getByLabel('Device passphrase to sign').fill('a long device passphrase');
    await page.getByRole('button', { name: 'Check addresses' }).click();
    await page.getByText('Addresses verified with your device share.').waitFor();

    await page.getByLabel('Message to sign').fill('hello from the web app');
    await page.getByLabel('Device passphrase to sign').fill('a long device passphrase');
    await page.getByRole('button', { name: 'Sign message' }).click();
    await page.getByTestId('signature').waitFor();
    const signature = ((await page.getByTestId('signature').textContent()) ?? '') as `0x${string}`;
    assert.ok(
      await verifyMessage({
        address: address as `0x${string}`,
        message: 'hello from the web app',
        signature,
      }),
      'the signature recovers to the wallet address',
    );
    // A wrong passphrase does not open the device share.
    await page.getByLabel('Device passphrase to sign').fill('not the passphrase');
    await page.getByRole('button', { name: 'Sign message' }).click();
    await page.getByText(/wrong passphrase/i).waitFor();

    // The policy, edited here and enforced in the enclave: message signing refused.
    await page.getByLabel('Device passphrase to sign').fill('a long device passphrase');
    await page.getByLabel('Rules (JSON)').fill('[{"type":"deny_message_signing"}]');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.getByText('Policy saved').waitFor();
    await page.getByRole('button', { name: 'Sign message' }).click();
    await page.getByText(/POLICY_DENIED/).waitFor();

    // Export: the device share (passphrase) and the recovery share file, combined here; the
    // mnemonic gives the wallet's address in another implementation (viem, BIP-44 path 0).
    const kitFile = {
      name: 'recovery.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(recoveryFile)),
    };
    await page.getByLabel('Recovery share file').setInputFiles(kitFile);
    await page.getByRole('button', { name: 'Export mnemonic' }).click();
    await page.getByTestId('mnemonic').waitFor();
    const mnemonic = (await page.getByTestId('mnemonic').textContent()) ?? '';
    assert.equal(mnemonic.split(' ').length, 24);
    assert.equal(mnemonicToAccount(mnemonic).address.toLowerCase(), address.toLowerCase());
    // Another wallet's (or a tampered) recovery share is refused before anything is combined.
    await page.getByLabel('Recovery share file').setInputFiles({
      ...kitFile,
      buffer: Buffer.from(JSON.stringify({ ...recoveryFile, generation: 7 })),
    });
    await page.getByRole('button', { name: 'Export mnemonic' }).click();
    await page.getByText(/recovery share of another wallet or generation/).waitFor();

    // Recovery: started with the recovery share (time-locked), cancelled with the device share.
    await page.getByLabel('Recovery share file').setInputFiles(kitFile);
    await page.getByRole('button', { name: 'Start recovery' }).click();
    await page.getByText(/^Recovery started:/).waitFor();
    await page
      .getByTestId('recovery-state')
      .getByText(/started .*, unlocks /)
      .waitFor();
    await axe(page, 'wallets (recovery)');
    await shot(page, 'wallets-recovery');
    await page.getByRole('button', { name: 'Cancel recovery' }).click();
    await page.getByText('Recovery cancelled.').waitFor();
    await page.getByTestId('recovery-state').getByText('none in progress').waitFor();
    // Started again and left to unlock (WALLET_RECOVERY_DELAY_SECONDS is 2 here), then completed
    // with the recovery share: new shares of the same wallet, one generation on.
    await page.getByLabel('Recovery share file').setInputFiles(kitFile);
    await page.getByRole('button', { name: 'Start recovery' }).click();
    await page.getByText(/^Recovery started:/).waitFor();
    const complete = page.getByRole('button', { name: 'Complete recovery' });
    while (!(await complete.isVisible())) {
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
      await page.getByTestId('recovery-state').waitFor();
    }
    await page.getByLabel('Device passphrase to sign').fill('a new device passphrase');
    await page.getByLabel('Recovery share file').setInputFiles(kitFile);
    const [newKit] = await Promise.all([page.waitForEvent('download'), complete.click()]);
    await page.getByText(/^Recovered: generation 2;/).waitFor();
    const newRecovery = JSON.parse(readFileSync((await newKit.path())!, 'utf8'));
    assert.equal(newRecovery.generation, 2);
    assert.equal(newRecovery.wallet_id, recoveryFile.wallet_id);

    await go(w, '/log', 'Log');
    await page.getByTestId('checkpoint').waitFor();
    await page.getByTestId('own-entries').waitFor();
    assert.match(
      (await page.getByTestId('consistency').textContent()) ?? '',
      /first checkpoint|extends/,
    );
    await page.reload();
    await page.getByTestId('consistency').waitFor();
    assert.match((await page.getByTestId('consistency').textContent()) ?? '', /extends/);
    await axe(page, 'log');
    await shot(page, 'log');
    // The one failed request expected: the signing the policy refused (403 POLICY_DENIED).
    assert.deepEqual(
      w.errors.filter(
        (e) => !/403.*\/wallets\/[0-9a-f-]+\/sign$|403 \(Forbidden\) at .*\/sign$/.test(e),
      ),
      [],
    );
    await context.close();
  });
  it('the operator view: only with the role; sessions of every user, counters, key rollover', async () => {
    assert.ok(await cliSetOperator(ts, 'grant', EMAIL));
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    await pin(page);
    await passwordSignIn(w, EMAIL, 'Sign in');
    await go(w, '/operator', 'Operator');
    await page.getByTestId('op-sessions').getByRole('cell', { name: 'binance' }).first().waitFor();
    assert.match((await page.getByTestId('metrics').textContent()) ?? '', /users/);
    // The running instance recorded itself (CLUSTER_ADVERTISE_URL) with its measurement.
    await page.getByTestId('members').getByRole('cell', { name: local }).waitFor();
    assert.match(
      (await page.getByTestId('members').textContent()) ?? '',
      new RegExp(ts.measurement.slice(0, 16)),
    );
    await page.getByRole('button', { name: 'Rotate signing key now' }).click();
    await page.getByText('Signing key rolled over.').waitFor();
    await axe(page, 'operator');
    await shot(page, 'operator');
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  it('passkeys, email codes and step-up: a passkey added behind a step-up prompt, then sign-in with it and with a mailed code; no SIWE without a wallet', async () => {
    const email = 'passkey-user@example.com';
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    const { cdp, authenticatorId } = await authenticator(context, page);
    await pin(page, local);
    await page.goto(`${local}/signin`);
    assert.equal(
      await page.getByRole('heading', { name: 'Sign-In with Ethereum' }).count(),
      0,
      'no SIWE without an injected wallet',
    );
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${local}/keys`);

    // A refreshed token carries no recent authentication: adding a passkey then needs a step-up.
    await staleToken(page);
    await page.goto(`${local}/account`);
    await page.getByTestId('methods').waitFor();
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /log in again with one of/);
    await axe(page, 'step-up');
    await dialog.getByLabel(`Password for ${email}`).fill(PASSWORD);
    await dialog.getByLabel(`Password for ${email}`).press('Enter');
    await page.getByText('Passkey added. You can sign in with it now.').waitFor();
    assert.equal(await dialog.isVisible(), false);
    await page
      .getByTestId('methods')
      .getByText(/^passkey/)
      .waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1, 'one resident credential on the authenticator');
    assert.equal(credentials[0]!.rpId, 'localhost');
    await axe(page, 'account');
    await shot(page, 'account');

    // Sign out; sign in with the passkey (discoverable: no email typed). The tab forgets the
    // session as soon as Sign out is clicked, before the logout answers: a page loaded at once
    // (the goto below) must not find it and refresh a session being revoked.
    await page.getByRole('button', { name: 'Sign out' }).click();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('cloister.account.v1')), null);
    await page.goto(`${local}/signin`);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL(`${local}/keys`);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    // Sign out; sign in with a code mailed to the account's address (a file on the simulated platform).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${local}/signin`);
    await page.getByLabel('Email for a code').fill(email);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.getByLabel('Code from the mail').waitFor();
    const code = await mailedCode(ts.dataDir, /code is (\d{6})/, email);
    await axe(page, 'sign in (email code)');
    await page.getByLabel('Code from the mail').fill(code);
    await page.getByRole('button', { name: 'Sign in with the code' }).click();
    await page.waitForURL(`${local}/keys`);
    assert.match((await page.locator('.who').textContent()) ?? '', new RegExp(email));
    // Expected failures only: the stale token (401) and the step-up demand (401 STEP_UP_REQUIRED).
    assert.deepEqual(
      w.errors.filter(
        (e) =>
          !/^HTTP 401 (GET|POST) .*\/auth\/(methods|recovery|passkeys\/register\/options)$/.test(
            e,
          ) && !/401 \(Unauthorized\)/.test(e),
      ),
      [],
    );
    await context.close();
  });

  it('TOTP: enrolled on the account page with codes computed here; a wallet policy behind a TOTP step-up; sign-in and step-up with recovery codes', async () => {
    const email = 'totp-user@example.com';
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    await pin(page);
    await passwordSignIn(w, email, 'Create account');

    // Enrol: the otpauth URI is shown once as text; the test is the authenticator app.
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const uri = (await page.getByTestId('otpauth-uri').textContent()) ?? '';
    const totp = URI.parse(uri);
    assert.ok(totp instanceof TOTP, uri);
    /** The code `offset` steps from now (the enclave accepts ±1 and never a step twice). */
    const code = (offset = 0) => totp.generate({ timestamp: Date.now() + offset * 30_000 });
    await axe(page, 'account (TOTP enrolment)');
    await page.getByLabel('Code from the app').fill(code());
    await page.getByRole('button', { name: 'Confirm the code' }).click();
    await page.getByTestId('recovery-codes').waitFor();
    const recoveryCodes = (
      await page.getByTestId('recovery-codes').locator('code').allTextContents()
    ).map((c) => c.trim());
    assert.equal(recoveryCodes.length, 10);
    await page.getByRole('button', { name: 'Remove the authenticator app' }).waitFor();
    await axe(page, 'account (TOTP enrolled)');
    await shot(page, 'account-totp');

    // The session's token has no second factor: a wallet policy (a sensitive route the SDK
    // calls) opens the step-up dialog; a code from the app there lets the save go through.
    await go(w, '/wallet', 'Wallets');
    await page.getByLabel('Device passphrase', { exact: true }).fill('a long device passphrase');
    await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Create wallet' }).click(),
    ]);
    await page.getByLabel('Device passphrase to sign').fill('a long device passphrase');
    await page.getByLabel('Rules (JSON)').fill('[{"type":"deny_message_signing"}]');
    await page.getByRole('button', { name: 'Save policy' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await dialog.getByLabel('Authenticator or recovery code').fill(code(1));
    await dialog.getByRole('button', { name: 'Confirm with the code' }).click();
    await page.getByText('Policy saved').waitFor();
    assert.equal(await dialog.isVisible(), false);

    // A password sign-in now asks for the second factor: a recovery code here.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await go(w, '/signin', 'Sign in');
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page
      .getByLabel('Code from your authenticator app, or a recovery code')
      .fill(recoveryCodes[0]!);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/keys`);

    // An email-code sign-in asks for it too (the mailed code stays valid meanwhile).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await go(w, '/signin', 'Sign in');
    await page.getByLabel('Email for a code').fill(email);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.getByLabel('Code from the mail').waitFor();
    await page
      .getByLabel('Code from the mail')
      .fill(await mailedCode(ts.dataDir, /code is (\d{6})/, email));
    await page.getByRole('button', { name: 'Sign in with the code' }).click();
    await page
      .getByLabel('Code from your authenticator app, or a recovery code')
      .fill(recoveryCodes[2]!);
    await page.getByRole('button', { name: 'Sign in with the code' }).click();
    await page.waitForURL(`${base}/keys`);

    // A refreshed token carries no recent authentication: removing TOTP asks for a step-up,
    // answered with another recovery code; the removal then goes through.
    await staleToken(page);
    await page.goto(`${base}/account`);
    await page.getByRole('button', { name: 'Remove the authenticator app' }).click();
    await dialog.waitFor();
    await dialog.getByLabel('Authenticator or recovery code').fill(recoveryCodes[1]!);
    await dialog.getByRole('button', { name: 'Confirm with the code' }).click();
    await page.getByText('Authenticator app removed, with its recovery codes.').waitFor();
    assert.equal(await dialog.isVisible(), false);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).waitFor();
    // Expected failures only: the sign-ins without a code (401 AUTH_MFA_REQUIRED), the stale
    // token (401) and the step-up demands (401 STEP_UP_REQUIRED).
    assert.deepEqual(
      w.errors.filter(
        (e) =>
          !/^HTTP 401 (GET|POST|DELETE) .*\/auth\/(login|otp\/verify|methods|recovery|totp)$/.test(
            e,
          ) &&
          !/^HTTP 401 PUT .*\/wallets\/[0-9a-f-]+\/policy$/.test(e) &&
          !/401 \(Unauthorized\)/.test(e),
      ),
      [],
    );
    await context.close();
  });

  it('account methods and recovery: an email and a password linked, the password changed, a passkey step-up to unlink; recovery time-locked with its completion code, still locked, cancelled; an expired token refreshed on the wallet page', async () => {
    const email = 'methods-user@example.com';
    const other = 'methods-second@example.com';
    const NEW_PASSWORD = 'a brand new correct horse';
    const context = await browser.newContext({ acceptDownloads: true });
    const w = await open(context);
    const { page } = w;
    await authenticator(context, page);
    await pin(page, local);
    await page.goto(`${local}/signin`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${local}/keys`);

    // Link a second email: a code mailed to it (the test reads the simulated mailbox).
    await page.goto(`${local}/account`);
    await page.getByTestId('methods').waitFor();
    await page.getByLabel('Email to link').fill(other);
    await page.getByLabel('Email to link').press('Enter');
    await page.getByLabel('Code mailed to that address').waitFor();
    await page
      .getByLabel('Code mailed to that address')
      .fill(await mailedCode(ts.dataDir, /(\d{6})/, other));
    await page.getByRole('button', { name: 'Link the email' }).click();
    await page.getByText(`Email ${other} linked`).waitFor();
    await page.getByTestId('methods').getByText(`email: ${other}`).waitFor();

    // Change the password (encrypted to the enclave, action "change").
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByText(/^Password changed/).waitFor();

    // A passkey: from then on the account has a second factor.
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey added. You can sign in with it now.').waitFor();

    // A refreshed token: unlinking the second email asks for a step-up, offered with the passkey.
    await staleToken(page);
    await page.reload();
    await page.getByRole('button', { name: `Unlink email ${other}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /passkey/);
    await axe(page, 'step-up (passkey)');
    await shot(page, 'step-up-passkey');
    // Only the factors the account has: no code field; the dialog's focus is on the passkey.
    assert.equal(await dialog.getByLabel('Authenticator or recovery code').count(), 0);
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent),
      'Confirm with a passkey',
    );
    await page.keyboard.press('Enter');
    await page.getByText(`Unlinked email ${other}.`).waitFor();
    assert.equal(await dialog.isVisible(), false);
    assert.equal(await page.getByTestId('methods').getByText(`email: ${other}`).count(), 0);
    await axe(page, 'account (methods)');
    await shot(page, 'account-methods');

    // Forgot password: the account has a passkey, so the recovery is time-locked.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${local}/signin`);
    await page.getByRole('button', { name: 'Forgot password?' }).click();
    await page.getByLabel('Account email').fill(email);
    await page.getByRole('button', { name: 'Email me a recovery code' }).click();
    await page.getByLabel('Recovery code from the mail').waitFor();
    await page
      .getByLabel('Recovery code from the mail')
      .fill(await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email));
    await page.getByLabel('New password', { exact: true }).fill('recovered password 123');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByTestId('recovery-pending').waitFor();
    const completion = ((await page.getByTestId('completion-code').textContent()) ?? '').trim();
    assert.match(completion, /^[A-Za-z0-9_-]{22}$/);
    const [file] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download the code' }).click(),
    ]);
    assert.match(readFileSync(await file.path(), 'utf8'), new RegExp(completion));
    await page.getByLabel('Email of the recovered account').fill(email);
    await page.getByLabel('Completion code').fill(completion);
    await page.getByRole('button', { name: 'Complete the recovery' }).click();
    await page.getByText(/^Still locked/).waitFor();
    await axe(page, 'sign in (recovery)');
    await shot(page, 'recovery');

    // The owner (changed password) sees the pending recovery and cancels it.
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${local}/keys`);
    // Every page says so at once, not only /account: the time-lock protects an owner who knows.
    await page.getByTestId('recovery-alert').waitFor();
    await page
      .getByTestId('recovery-alert')
      .getByRole('link', { name: /cancel it/ })
      .click();
    await page.waitForURL(`${local}/account`);
    await page.getByTestId('pending-recovery').waitFor();
    await page.getByRole('button', { name: 'Cancel the recovery' }).click();
    await page.getByText(/^Recovery cancelled/).waitFor();
    const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/recovery');
    await page.goto(`${local}/keys`);
    assert.equal((await asked).status(), 200);
    await page.getByRole('heading', { name: 'Exchange keys' }).waitFor();
    assert.equal(await page.getByTestId('recovery-alert').count(), 0, 'gone once cancelled');

    // On the wallet page (SDK calls), a token whose exp has passed is refreshed before it is
    // sent (no 401 for /wallets), and the wallet made.
    const b64url = (x: string) => Buffer.from(x).toString('base64url');
    await staleToken(page, `${b64url('{"alg":"ES256"}')}.${b64url('{"exp":1}')}.x`);
    await page.goto(`${local}/wallet`);
    await page.getByLabel('Device passphrase', { exact: true }).fill('a long device passphrase');
    await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Create wallet' }).click(),
    ]);
    await page.getByLabel('Device passphrase to sign').waitFor();
    // Expected failures only: stale tokens (401), the step-up demand (401 STEP_UP_REQUIRED) and
    // the locked completion (409 AUTH_RECOVERY_LOCKED).
    assert.deepEqual(
      w.errors.filter(
        (e) =>
          !/^HTTP 401 (GET|POST|DELETE) .*\/auth\/(methods(\/[^/]+)?|recovery)$/.test(e) &&
          !/^HTTP 409 POST .*\/auth\/recovery\/complete$/.test(e) &&
          !/(401 \(Unauthorized\)|409 \(Conflict\))/.test(e),
      ),
      [],
    );
    await context.close();
  });

  it('a page opened from the navigation has the focus before the next key: keys typed at once stay where they were typed', async () => {
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    // The page's timers and frames held: what the app does after a paint has not happened yet
    // when the keys below arrive (as on a slow device, or a keyboard user quicker than a frame).
    const t0 = Date.now();
    await page.clock.install({ time: t0 });
    await page.goto(`${base}/trust`);
    await page.getByRole('heading', { name: 'Trust' }).waitFor();
    await page.clock.pauseAt(t0 + 60_000);
    await tabTo(page, 'nav a[href="/signin"]');
    await page.keyboard.press('Enter');
    await tabTo(page, '#si-email');
    await page.keyboard.type(EMAIL);
    // Frames and timers run again: nothing moves the focus away from the field typed in.
    await page.clock.runFor(1000);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'si-email');
    assert.equal(await page.getByLabel('Email', { exact: true }).inputValue(), EMAIL);
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  it('an account from an email code: a password linked, an email-code step-up, a recovery reset at once (no second factor), all with the keyboard', async () => {
    const email = 'code-user@example.com';
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    await pin(page);
    await go(w, '/signin', 'Sign in');
    await page.getByLabel('Email for a code').fill(email);
    await page.getByLabel('Email for a code').press('Enter');
    await page.getByLabel('Code from the mail').waitFor();
    await page
      .getByLabel('Code from the mail')
      .fill(await mailedCode(ts.dataDir, /code is (\d{6})/, email));
    await page.getByLabel('Code from the mail').press('Enter');
    await page.waitForURL(`${base}/keys`);

    // Link a password, with the keyboard only.
    await go(w, '/account', 'Account');
    await page.getByTestId('methods').waitFor();
    await tabTo(page, '#ac-pw');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByText('Password linked: you can sign in with it now.').waitFor();
    await page
      .getByTestId('methods')
      .getByText(/^password/)
      .waitFor();
    await page.getByRole('heading', { name: 'Change the password' }).waitFor();

    // A refreshed token: linking an email asks for a step-up; a code mailed to the account.
    await staleToken(page);
    await page.reload();
    await page.getByLabel('Email to link').fill('code-user-2@example.com');
    await page.getByLabel('Email to link').press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Email me a code' }).click();
    await dialog.getByLabel(`Code mailed to ${email}`).waitFor();
    await axe(page, 'step-up (email code)');
    await dialog
      .getByLabel(`Code mailed to ${email}`)
      .fill(await mailedCode(ts.dataDir, /sensitive operation is (\d{6})/, email));
    await dialog.getByLabel(`Code mailed to ${email}`).press('Enter');
    await page.getByLabel('Code mailed to that address').waitFor();
    assert.equal(await dialog.isVisible(), false);

    // Forgot password, with the keyboard: no second factor, so the password is reset at once.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await go(w, '/signin', 'Sign in');
    await tabTo(page, 'button[aria-controls="recover"]');
    await page.keyboard.press('Enter');
    await tabTo(page, '#rc-email');
    await page.keyboard.type(email);
    await page.keyboard.press('Enter');
    await page.getByLabel('Recovery code from the mail').waitFor();
    await tabTo(page, '#rc-code');
    await page.keyboard.type(
      await mailedCode(ts.dataDir, /account recovery code is (\d{6})/, email),
    );
    await tabTo(page, '#rc-pw');
    await page.keyboard.type('a reset password 456');
    await page.keyboard.press('Enter');
    await page.getByText('Password reset: sign in with the new one above.').waitFor();
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill('a reset password 456');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/keys`);
    // Expected failures only: the stale token (401) and the step-up demand (401 STEP_UP_REQUIRED).
    assert.deepEqual(
      w.errors.filter(
        (e) =>
          !/^HTTP 401 GET .*\/auth\/(methods|recovery)$/.test(e) &&
          !/^HTTP 401 POST .*\/auth\/methods\/link\/email\/start$/.test(e) &&
          !/401 \(Unauthorized\)/.test(e),
      ),
      [],
    );
    await context.close();
  });

  it("secrets typed into the app leave it only sealed (no password, API key or secret, and no token, in a URL, a request in the clear, storage, history or the console); sign-in ends on the app's own page whatever the link asked; a session ended elsewhere is forgotten", async () => {
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    const email = 'secrets@example.com';
    const creds = uniqueCredentials('web');
    const sent: string[] = [];
    const urls: string[] = [];
    const consoleLines: string[] = [];
    page.on('request', (r) => {
      urls.push(r.url());
      sent.push(r.url(), r.postData() ?? '');
    });
    page.on('console', (m) => consoleLines.push(m.text()));
    await pin(page);
    // Sign-in ends on the app's own page, whatever a link to it asked for.
    await passwordSignIn(
      w,
      email,
      'Create account',
      `${base}/signin?next=https%3A%2F%2Fexample.org%2F&redirect=javascript:alert(1)#next=//example.org`,
    );
    await page.getByLabel('API key').fill(creds.apiKey);
    await page.getByLabel('API secret').fill(creds.apiSecret);
    await page.getByRole('button', { name: 'Encrypt and add key' }).click();
    await page.getByTestId('sessions').getByRole('cell', { name: 'active' }).waitFor();

    const state = await page.evaluate(() => ({
      local: Object.entries(localStorage).map(([k, v]) => `${k}=${v}`),
      session: Object.keys(sessionStorage),
      account: sessionStorage.getItem('cloister.account.v1') ?? '',
      history: JSON.stringify(history.state),
      href: location.href,
    }));
    // The requests are all here, bodies included: the email goes in the clear, as it should.
    assert.ok(sent.some((t) => t.includes(email)));
    const account = JSON.parse(state.account) as { accessToken: string; refreshToken: string };
    const tokens = [account.accessToken, account.refreshToken];
    assert.ok(tokens.every((t) => t.length > 20));
    for (const secret of [PASSWORD, creds.apiKey, creds.apiSecret]) {
      for (const text of [...sent, ...state.local, state.account, state.history, state.href])
        assert.ok(!text.includes(secret), 'a typed secret left the page in the clear');
      assert.ok(!consoleLines.some((l) => l.includes(secret)));
    }
    // The tokens: in this tab's sessionStorage only; never in a URL, localStorage or the console.
    assert.deepEqual(state.session, ['cloister.account.v1']);
    for (const t of tokens) {
      assert.ok(!urls.some((u) => u.includes(t)));
      assert.ok(!state.local.some((l) => l.includes(t)));
      assert.ok(!consoleLines.some((l) => l.includes(t)));
      assert.ok(!state.history.includes(t) && !state.href.includes(t));
    }
    assert.equal(state.history, 'null');
    assert.deepEqual(w.errors, []);

    // The session ends elsewhere (logged out with its token): the next call is refused, the
    // refresh too, and the tab forgets both tokens.
    const out = await ts.service.app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: `Bearer ${account.accessToken}` },
    });
    assert.ok(out.statusCode < 300, out.body);
    await page.reload();
    await page.getByTestId('register').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.ok(w.errors.length > 0);
    for (const e of w.errors)
      assert.match(
        e,
        /^HTTP 401 (GET .*\/(enclave\/sessions|auth\/recovery)|POST .*\/auth\/refresh)$|401 \(Unauthorized\)/,
      );
    await context.close();
  });

  it('pins replaced in another tab hold in this one at once: no key is sealed to a measurement the user just removed', async () => {
    const { context, w, page } = await pinnedTab();
    await passwordSignIn(w, 'two-tabs@example.com', 'Create account');
    // Another tab of this browser replaces the measurement with one the enclave does not have.
    const other = await open(context);
    await other.page.goto(`${base}/trust`);
    await other.page.getByLabel('Expected measurement(s), hex, one per line').fill('cd'.repeat(48));
    await other.page.getByRole('button', { name: 'Save pins and verify' }).click();
    await other.page.getByText('Pins saved; the enclave is failed.').waitFor();
    // The first tab, open all along, adds a key.
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByLabel('API secret').fill(API_SECRET);
    await page.getByRole('button', { name: 'Encrypt and add key' }).click();
    const refused = page.getByText(/^The enclave did not verify in this browser, nothing was sent/);
    // Whichever comes first; the other wait is left to end with the page (its error ignored).
    const added = page.getByText(/^Key added: session/).waitFor();
    added.catch(() => undefined);
    await Promise.race([refused.waitFor(), added]);
    assert.ok(await refused.isVisible(), 'the key was sealed under the removed pin');
    await page.getByText('Enclave evidence REFUSED in this browser').waitFor();
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  it('the trust banner: a late answer to a check under replaced pins is neither shown nor used', async () => {
    const { context, w, page } = await pinnedTab();
    // The host holds the answer to the next check, made under the right pins…
    let holding = true;
    let releaseHeld: () => void = () => undefined;
    const heldGate = new Promise<void>((ok) => (releaseHeld = ok));
    let held: () => void = () => undefined;
    const atHeld = new Promise<void>((ok) => (held = ok));
    let after = 0;
    let seenAfter: () => void = () => undefined;
    const requestAfter = new Promise<void>((ok) => (seenAfter = ok));
    const quote = (u: URL) => u.pathname === '/attestation/quote';
    await page.route(quote, async (route) => {
      if (holding) {
        holding = false;
        held();
        await heldGate;
      } else if (after++ >= 1) seenAfter();
      await route.continue();
    });
    try {
      await page.getByRole('button', { name: 'Save pins and verify' }).click();
      await atHeld;
      // …while the user replaces the measurement with one the enclave does not have.
      await page.getByLabel('Expected measurement(s), hex, one per line').fill('ab'.repeat(48));
      await page.getByRole('button', { name: 'Save pins and verify' }).click();
      const status = page.getByTestId('trust-status');
      await page.getByText('Enclave evidence REFUSED in this browser').waitFor();
      releaseHeld();
      // The late answer either turns the banner to "verified" (the flaw) or is checked again
      // under the pins now held (a new request for evidence), which refuses it.
      const verified = page
        .getByText('Enclave evidence verified in this browser against your pins')
        .waitFor();
      verified.catch(() => undefined);
      await Promise.race([verified, requestAfter]);
      assert.match((await status.textContent()) ?? '', /REFUSED/);
      await page.getByText('Pins saved; the enclave is failed.').first().waitFor();
      assert.equal(await page.getByText('Pins saved; the enclave verified.').count(), 0);
    } finally {
      releaseHeld();
    }
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  it('the log page says so when the measurement is not pinned (trust on first use), as the verify page does', async () => {
    const context = await browser.newContext();
    const w = await open(context);
    const { page } = w;
    await page.goto(`${base}/trust`);
    await page.getByLabel('Simulated vendor key (development only)').fill(ts.vendorKey);
    await page.getByRole('button', { name: 'Save pins and verify' }).click();
    await page.getByTestId('pin-reported').waitFor();
    await go(w, '/log', 'Log');
    await page.getByTestId('checkpoint').waitFor();
    assert.match(
      (await page.getByTestId('checkpoint').textContent()) ?? '',
      /measurement is not pinned in this browser/,
    );
    await axe(page, 'log (unpinned)');
    // Pinned, the note is gone.
    await pin(page);
    await go(w, '/log', 'Log');
    await page.getByTestId('checkpoint').waitFor();
    assert.equal(await page.getByTestId('log-unpinned').count(), 0);
    assert.deepEqual(w.errors, []);
    // Under the page's Trusted Types, markup from a string is refused, not parsed.
    const sink = await page.evaluate(() => {
      try {
        document.createElement('div').innerHTML = '<img src="x">';
        return 'parsed';
      } catch (e) {
        return (e as Error).name;
      }
    });
    assert.equal(sink, 'TypeError');
    await context.close();
  });

  it('the log page keeps the checkpoint of every log key it saw: another keyring shown once does not let the first log roll back unseen', async () => {
    const checkpoint = async (svc: TestService) =>
      (await svc.service.app.inject({ method: 'GET', url: '/api/log/checkpoint' })).body;
    const early = await checkpoint(ts);
    // The log grows: an account adds an exchange key (its session's entry).
    const { verification: v } = await verifiedAttestation(ts);
    const email = 'log-rollback@example.com';
    const seal = (action: 'register' | 'login') =>
      encryptPassword({ action, email, password: PASSWORD }, v.enclavePubkey!, { keyId: v.keyId! });
    const post = (url: string, payload: Record<string, unknown>, token?: string) =>
      ts.service.app.inject({
        method: 'POST',
        url,
        payload,
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      });
    const reg = await post('/auth/register', { email, envelope: seal('register') });
    assert.ok(reg.statusCode < 300, reg.body);
    const login = await post('/auth/login', { email, envelope: seal('login') });
    assert.equal(login.statusCode, 200, login.body);
    const creds = uniqueCredentials('log');
    const sealed = await CryptoHelper.encryptCredentials(creds, v.enclavePubkey!, {
      keyId: v.keyId!,
    });
    const sub = await post(
      '/enclave/submit_key',
      { ...sealed, metadata: { exchange: 'binance', label: 'log', ttl: 3600 } },
      (login.json() as { access_token: string }).access_token,
    );
    assert.equal(sub.statusCode, 200, sub.body);
    const sizeOf = (body: string) =>
      Number((JSON.parse(body) as { checkpoint: string }).checkpoint.split('\n')[1]);
    assert.ok(sizeOf(await checkpoint(ts)) > sizeOf(early));

    const { context, w, page } = await pinnedTab();
    await go(w, '/log', 'Log');
    const consistency = page.getByTestId('consistency');
    await consistency.waitFor();
    assert.match(
      (await consistency.textContent()) ?? '',
      /^first checkpoint this browser has seen/,
    );

    // The host shows, for one visit, a fresh enclave of the pinned measurement and vendor: its
    // own keyring, so another log key and origin.
    const dir = await seededDataDir();
    mkdirSync(join(dir, 'simulated-platform'));
    cpSync(
      join(ts.dataDir, 'simulated-platform', 'vendor.key'),
      join(dir, 'simulated-platform', 'vendor.key'),
    );
    const other = await startTestService('pglite', {}, { dataDir: dir, database: undefined });
    const routed = (u: URL) =>
      u.pathname === '/attestation/quote' || u.pathname.startsWith('/api/log/');
    const viaOther = async (route: Route) => {
      const u = new URL(route.request().url());
      const r = await other.service.app.inject({ method: 'GET', url: `${u.pathname}${u.search}` });
      await route.fulfill({ status: r.statusCode, contentType: 'application/json', body: r.body });
    };
    try {
      assert.equal(other.measurement, ts.measurement);
      await page.route(routed, viaOther);
      await page.reload();
      await consistency.waitFor();
      assert.match(
        (await consistency.textContent()) ?? '',
        /^NEW LOG KEY: this browser saw another log/,
      );
      await page.unroute(routed, viaOther);
    } finally {
      await other.stop();
    }

    // Back on the first log, rolled back to its early checkpoint (validly signed, but smaller).
    const rolledBack = (u: URL) => u.pathname === '/api/log/checkpoint';
    await page.route(rolledBack, (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: early }),
    );
    await page.reload();
    await consistency.waitFor();
    assert.match((await consistency.textContent()) ?? '', /^FORK WARNING/);
    await page.unroute(rolledBack);
    // The real log still extends what this browser kept.
    await page.reload();
    await consistency.waitFor();
    assert.match((await consistency.textContent()) ?? '', /^extends the last checkpoint/);
    assert.deepEqual(w.errors, []);
    await context.close();
  });

  /** This tab's stored session (sessionStorage), or null when signed out. */
  const storedSession = (page: Page) =>
    page.evaluate(
      () =>
        JSON.parse(sessionStorage.getItem('cloister.account.v1') ?? 'null') as {
          accessToken: string;
          refreshToken: string;
        } | null,
    );

  it('two tabs sharing a session (one opened from the other) both refresh: no spent refresh token is presented, no session is revoked, both keep working', async () => {
    const { context, w, page } = await pinnedTab();
    await passwordSignIn(w, 'shared-tabs@example.com', 'Create account');
    const refreshes: number[] = [];
    /** The Keys page listed the sessions, or (the flaw) the tab was signed out. */
    const noSessions = async (p: Page) => {
      const listed = p.getByText('No sessions yet.');
      await listed.or(p.getByTestId('register')).first().waitFor();
      assert.ok(await listed.isVisible(), `signed out; refreshes answered ${refreshes.join(', ')}`);
    };
    await noSessions(page);
    // A tab opened from this one starts with a copy of its sessionStorage: the same pair.
    const [popup] = await Promise.all([
      context.waitForEvent('page'),
      page.evaluate(() => void window.open('/keys')),
    ]);
    const w2 = watch(popup);
    await noSessions(popup);
    assert.equal(
      (await storedSession(popup))?.refreshToken,
      (await storedSession(page))?.refreshToken,
    );
    for (const p of [page, popup])
      p.on('response', (r) => {
        if (new URL(r.url()).pathname === '/auth/refresh') refreshes.push(r.status());
      });
    // The first tab refreshes twice (a refused access token): the copied refresh token is spent,
    // and so is its successor, so no grace window covers a replay of it.
    for (let i = 0; i < 2; i++) {
      await staleToken(page);
      await page.reload();
      await noSessions(page);
    }
    const current = (await storedSession(page))!.refreshToken;
    // The second tab is handed the new pair (without the handover it keeps the spent one: the
    // wait ends unmet, and the refresh below shows what follows).
    await popup
      .waitForFunction(
        (t) =>
          (
            JSON.parse(sessionStorage.getItem('cloister.account.v1') ?? '{}') as {
              refreshToken?: string;
            }
          ).refreshToken === t,
        current,
      )
      .catch(() => undefined);
    // Now the second tab refreshes, then the first again: neither is signed out.
    await staleToken(popup);
    await popup.reload();
    await noSessions(popup);
    await staleToken(page);
    await page.reload();
    await noSessions(page);
    assert.deepEqual(refreshes, [200, 200, 200, 200]);
    assert.ok((await storedSession(page)) !== null && (await storedSession(popup)) !== null);
    assert.equal(
      (await storedSession(popup))?.refreshToken,
      (await storedSession(page))?.refreshToken,
    );
    // The stale tokens' own refusals, nothing else (no AUTH_REFRESH_REUSED, no sign-out).
    for (const e of [...w.errors, ...w2.errors])
      assert.match(e, /^HTTP 401 GET .*\/(enclave\/sessions|auth\/recovery)$|401 \(Unauthorized\)/);
    await context.close();
  });

  it('a refresh answered 503 or 429 keeps the session and shows the error; the next call refreshes', async () => {
    const { context, w, page } = await pinnedTab();
    await passwordSignIn(w, 'refresh-busy@example.com', 'Create account');
    await page.getByText('No sessions yet.').waitFor();
    const refreshRoute = (u: URL) => u.pathname === '/auth/refresh';
    for (const [status, code] of [
      [503, 'ENCLAVE_UNAVAILABLE'],
      [429, 'RATE_LIMITED'],
    ] as const) {
      const before = await storedSession(page);
      await page.route(
        refreshRoute,
        (route) =>
          route.fulfill({
            status,
            contentType: 'application/json',
            headers: { 'retry-after': '1' },
            body: JSON.stringify({ error: { code, message: 'retry later' } }),
          }),
        { times: 1 },
      );
      await staleToken(page);
      await page.reload();
      // The error is shown, or (the flaw) the tab is signed out.
      const shown = page.getByText(`${code}: retry later`);
      await shown.or(page.getByTestId('register')).first().waitFor();
      assert.ok(await shown.isVisible(), `${status}: the tab was signed out`);
      const kept = await storedSession(page);
      assert.equal(kept?.refreshToken, before?.refreshToken);
      // The refresh token is still good: the next call refreshes it.
      await page.reload();
      await page.getByText('No sessions yet.').waitFor();
      assert.notEqual((await storedSession(page))?.refreshToken, before?.refreshToken);
    }
    for (const e of w.errors)
      assert.match(
        e,
        /^HTTP 401 GET .*\/(enclave\/sessions|auth\/recovery)$|^HTTP (503|429) POST .*\/auth\/refresh$|(401|503|429) \(.*\)/,
      );
    await context.close();
  });

  it('the log page warns when the entries of a session do not verify (a tampered listing), not "no entries"', async () => {
    const { context, w, page } = await pinnedTab();
    await passwordSignIn(w, 'log-tampered@example.com', 'Create account');
    const creds = uniqueCredentials('logtamper');
    await page.getByLabel('API key').fill(creds.apiKey);
    await page.getByLabel('API secret').fill(creds.apiSecret);
    await page.getByRole('button', { name: 'Encrypt and add key' }).click();
    await page.getByTestId('sessions').getByRole('cell', { name: 'active' }).waitFor();
    await go(w, '/log', 'Log');
    const own = page.getByTestId('own-entries');
    await own.getByRole('table').waitFor();
    assert.equal(await page.getByTestId('entries-unverified').count(), 0);

    // The host alters the listing: one entry's text changed (its proof is for the old text).
    const listing = (u: URL) => u.pathname.startsWith('/api/logs/');
    await page.route(listing, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { entries: { entry: string }[] };
      assert.ok(body.entries.length > 0);
      body.entries[0]!.entry = body.entries[0]!.entry.replace('"time":', '"time":1');
      await route.fulfill({ response: res, json: body });
    });
    await page.reload();
    await own.waitFor();
    const warning = page.getByTestId('entries-unverified');
    assert.equal(await warning.count(), 1, 'the tampered listing was not flagged');
    assert.match(
      (await warning.textContent()) ?? '',
      /^ENTRIES NOT VERIFIED: .*not included in the checkpoint/,
    );
    assert.equal(await own.getByText('No entries for your sessions yet.').count(), 0);
    assert.equal(await own.getByRole('table').count(), 0);
    await axe(page, 'log (entries not verified)');
    await page.unroute(listing);
    assert.deepEqual(w.errors, []);
    await context.close();
  });
});
