/**
 * Mail the simulated platform writes to DATA_DIR/mail/ when no SMTP_URL is set
 * (src/host/auth/otp-login.ts): the newest code a test is waiting for. Routes answer before the
 * mail is written (their time must not depend on it), so this waits, up to a bound.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The first group of `what` in the newest mail (to `to`, if given) under `dataDir`/mail. */
export async function mailedCode(
  dataDir: string,
  what: RegExp,
  to?: string,
  timeoutMs = 30_000,
): Promise<string> {
  const dir = join(dataDir, 'mail');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).sort().reverse();
    } catch {
      // none written yet
    }
    for (const f of files) {
      const text = readFileSync(join(dir, f), 'utf8');
      const m = what.exec(text);
      if (m && (to === undefined || text.includes(`To: ${to}`))) return m[1]!;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no mail matching ${what}${to ? ` to ${to}` : ''} in ${dir}`);
}
