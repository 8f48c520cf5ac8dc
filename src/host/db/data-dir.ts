/**
 * The local data folder (DATA_DIR): private to the service's account, and used by one process
 * at a time when it holds the embedded database.
 *
 * PGlite writes most of its files 0666 whatever the umask (its WASM file system chooses the
 * mode), and its WAL and catalogs hold every row and every function body. So the folder is made
 * 0700 and everything under it is tightened at each start, before and after the database opens;
 * a folder other accounts can write to (or owned by another account) is refused, since anything
 * in it may already have been planted or swapped.
 *
 * The folders above DATA_DIR matter as much: whoever may write to one of them can rename DATA_DIR
 * away while the service runs and put a folder of its own in its place, where the enclave's next
 * start would then listen (`enclave.sock`) and, on the simulated platform, find its keys. So
 * every folder above must belong to this account or root and be writable by others only with the
 * sticky bit (as /tmp is).
 *
 * PGlite has one writer: a second process on the same files would lose acknowledged writes. The
 * lock file (`DATA_DIR/cloister.lock`, holding the pid) appears by link(), which never
 * overwrites, with the pid already in it; a lock whose pid is no longer alive (a kill -9) is
 * taken over with a rename, so two starters cannot both win.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EX_CONFIG, EX_UNAVAILABLE, StartupError } from '../startup-error.js';

export const LOCK_FILE = 'cloister.lock';

/** Creates DATA_DIR 0700 (or checks and tightens an existing one) and everything under it. */
export function secureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StartupError(
      `cannot create DATA_DIR (${(err as NodeJS.ErrnoException).code ?? 'error'}): set DATA_DIR to a folder this account can write`,
      EX_CONFIG,
      { cause: err },
    );
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) {
    throw new StartupError('DATA_DIR is not a folder: set DATA_DIR to a folder', EX_CONFIG);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new StartupError(
      `DATA_DIR is owned by another account (uid ${st.uid}): set DATA_DIR to a folder this account owns`,
      EX_CONFIG,
    );
  }
  if ((st.mode & 0o002) !== 0) {
    throw new StartupError(
      'DATA_DIR is writable by other accounts: remove it or set DATA_DIR to a private folder',
      EX_CONFIG,
    );
  }
  // The folders the path names (one holding a symbolic link on the way can re-point it) and
  // those it leads to.
  checkAncestors(resolve(dir), uid);
  checkAncestors(realpathSync(dir), uid);
  tightenTree(dir, uid);
}

/** Every folder above `dir`: this account's or root's, and others write only with the sticky bit. */
function checkAncestors(dir: string, uid: number | undefined): void {
  for (let p = dirname(dir); ; p = dirname(p)) {
    const st = statSync(p);
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
      throw new StartupError(
        `${p}, above DATA_DIR, is owned by another account (uid ${st.uid}): set DATA_DIR to a folder under this account's own`,
        EX_CONFIG,
      );
    }
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
      throw new StartupError(
        `${p}, above DATA_DIR, is writable by other accounts without the sticky bit: set DATA_DIR to a folder under a private one`,
        EX_CONFIG,
      );
    }
    if (dirname(p) === p) return;
  }
}

/**
 * chmod go-rwx on `dir` and everything under it; symbolic links are neither followed nor changed.
 * With `owner`, an entry another account owns is refused (a symbolic link too): it was planted,
 * e.g. through a group-writable DATA_DIR before this start tightened it (a `pglite` link to a
 * folder that account controls would put the database back in its hands).
 */
export function tightenTree(dir: string, owner?: number): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st) return;
  if (owner !== undefined && st.uid !== owner) {
    throw new StartupError(
      `${dir} in DATA_DIR is owned by another account (uid ${st.uid}): remove it, or set DATA_DIR to a private folder`,
      EX_CONFIG,
    );
  }
  if (st.isSymbolicLink()) return;
  if ((st.mode & 0o077) !== 0) chmodSync(dir, st.mode & 0o700);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(dir)) {
    try {
      tightenTree(join(dir, name), owner);
    } catch (err) {
      // A file PGlite removed between readdir and chmod is fine; anything else is not.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another account.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/** Locks this process holds: a lock file naming our own pid is otherwise stale (pid 1 in a container). */
const held = new Set<string>();

/** Takes the exclusive lock on DATA_DIR for this process; refuses (exit 69) naming the pid that holds it. */
export function lockDataDir(dir: string): DataDirLock {
  const path = resolve(dir, LOCK_FILE);
  if (held.has(path)) {
    throw new StartupError(
      `DATA_DIR is in use by this process (${path}): set DATA_DIR to another folder`,
      EX_UNAVAILABLE,
    );
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    // The lock appears with its pid already in it (written to a private file, then link(),
    // which never overwrites): an empty lock would look stale to a second starter reading it
    // before the pid is written, and it would remove it and start beside this process.
    const pending = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
    const fd = openSync(pending, 'wx', 0o600);
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let linked = false;
    try {
      linkSync(pending, path);
      linked = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(pending);
    }
    if (linked) {
      held.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          // Only our own lock: never remove one a later process took over.
          if (readPid(path) === process.pid) unlinkSync(path);
        },
      };
    }
    const holder = readPid(path);
    if (holder !== null && holder !== process.pid && pidAlive(holder)) {
      throw new StartupError(
        `DATA_DIR is in use by process ${holder} (${path}): stop it, or set DATA_DIR to another folder`,
        EX_UNAVAILABLE,
      );
    }
    takeOverStale(path, holder);
  }
  throw new StartupError(
    `cannot take the lock ${path}: another process keeps replacing it; check DATA_DIR`,
    EX_UNAVAILABLE,
  );
}

/**
 * Moves a stale lock aside atomically. If what was moved is not the stale lock seen (another
 * starter replaced it meanwhile), it is put back with link(), which never overwrites.
 */
function takeOverStale(path: string, stalePid: number | null): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readPid(aside);
  if (moved !== stalePid && moved !== null && pidAlive(moved)) {
    try {
      linkSync(aside, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  unlinkSync(aside);
}
