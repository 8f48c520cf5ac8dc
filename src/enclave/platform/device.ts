/**
 * What the hardware platforms share: device paths under one root (`TEE_DEVICE_ROOT`, `/` in
 * production, a fake tree in tests), reads and writes whose errors name the file and say what
 * is missing, and a queue so that one evidence request at a time uses a device whose state
 * (report data written, then quote read) is shared by the whole process.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A platform that cannot start or cannot produce evidence. The message names paths only. */
export class PlatformError extends Error {
  override readonly name = 'PlatformError';
}

/** `rel` is an absolute device path such as `/dev/attestation/quote`; `root` is prepended. */
export function devicePath(root: string, rel: string): string {
  return join(root, rel);
}

function describe(err: unknown, path: string, hint: string): PlatformError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new PlatformError(`${path}: ${code} (${hint})`);
}

export async function readDevice(
  path: string,
  hint: string,
  maxBytes: number,
): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw describe(err, path, hint);
  }
  if (bytes.length === 0) throw new PlatformError(`${path}: empty (${hint})`);
  if (bytes.length > maxBytes) throw new PlatformError(`${path}: larger than ${maxBytes} bytes`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export async function readDeviceText(path: string, hint: string): Promise<string> {
  return new TextDecoder().decode(await readDevice(path, hint, 4096)).trim();
}

export async function writeDevice(path: string, bytes: Uint8Array, hint: string): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (err) {
    throw describe(err, path, hint);
  }
}

/** Runs tasks one after another: a failed task does not block the next. */
export function createQueue() {
  let tail: Promise<unknown> = Promise.resolve();
  return function run<T>(task: () => Promise<T>): Promise<T> {
    const next = tail.then(task, task);
    tail = next.catch(() => undefined);
    return next;
  };
}

export function assertReportData(reportData: Uint8Array): void {
  if (!(reportData instanceof Uint8Array)) throw new TypeError('reportData must be a Uint8Array');
  if (reportData.length !== 64) throw new RangeError('reportData must be 64 bytes');
}
