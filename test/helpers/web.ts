/** Builds the web app (web/, Vite) into dist/web once, for the tests that serve it. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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

const fresh = (index: string) =>
  existsSync(index) &&
  statSync(index).mtimeMs >= Math.max(newest('web'), newest('src/client'), newest('src/protocol'));

/** Held while one test process rebuilds dist/web; a lock older than this was left by a crash. */
const LOCK = 'dist/.web-build.lock';
const STALE_LOCK_MS = 5 * 60_000;

/**
 * Rebuilds when dist/web is missing or older than any file under web/, src/client or
 * src/protocol. Test files run two at a time, and Vite empties dist/web before it writes: one
 * process at a time rebuilds (a lock folder), and one that waited finds the build fresh, so no
 * file serves a half-written dist/web.
 */
export function ensureWebBuild(): void {
  const index = join(WEB_ROOT, 'index.html');
  if (fresh(index)) return;
  mkdirSync('dist', { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (
        Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) >
        STALE_LOCK_MS
      )
        rmSync(LOCK, { recursive: true, force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (fresh(index)) return;
    execFileSync(
      process.execPath,
      ['node_modules/vite/bin/vite.js', 'build', '-c', 'web/vite.config.ts', '--logLevel', 'warn'],
      { stdio: 'inherit' },
    );
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
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
