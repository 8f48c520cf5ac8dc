/**
 * The CLI's one way to write a file it may replace (a saved login, a re-split share file, a
 * report and its salt, the log monitor's state): written beside under a random name that must
 * not exist yet ('wx': never through a link or file someone planted there), then renamed over
 * the path. So a crash never leaves half a file, and a symbolic link planted at the path (a
 * shared folder, a file name the host chose) is replaced, never followed: the file it points to
 * is not written. In a sticky folder (/tmp) a file of another account at the path is refused
 * (EPERM), not reused.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';

export function replaceFile(path: string, text: string, mode: number): void {
  const tmp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, text, { mode, flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * A small file the CLI reads whole (a share file): refused unless it is a regular file of at
 * most `max` bytes, so a planted FIFO, device or huge file neither blocks nor fills memory.
 */
export function assertSmallFile(path: string, max: number): void {
  const st = statSync(path);
  if (!st.isFile() || st.size > max)
    throw new Error(`${path} is not a regular file of at most ${max} bytes`);
}
