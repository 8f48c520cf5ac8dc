/** Builds the web app (web/, Vite) into dist/web once, for the tests that serve it. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';

function newest(dir: string): number {
  return readdirSync(dir).reduce((m, n) => {
    const p = join(dir, n);
    const s = statSync(p);
    return Math.max(m, s.isDirectory() ? newest(p) : s.mtimeMs);
  }, 0);
}

export const WEB_ROOT = 'dist/web';

/** Rebuilds when dist/web is missing or older than any file under web/, src/client or src/protocol. */
export function ensureWebBuild(): void {
  const index = join(WEB_ROOT, 'index.html');
  if (
    existsSync(index) &&
    statSync(index).mtimeMs >= Math.max(newest('web'), newest('src/client'), newest('src/protocol'))
  )
    return;
  execFileSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '-c', 'web/vite.config.ts', '--logLevel', 'warn'],
    { stdio: 'inherit' },
  );
}

/** The system Chromium the browser tests drive (CI installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless system Chromium (playwright-core), as the browser tests launch it by default. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
}
