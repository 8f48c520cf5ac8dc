/**
 * Runs `cloister ...` (src/cli/main.ts) as a process; never rejects.
 *
 * The process runs src/cli compiled to JavaScript (`cliCommand`), not src/cli/main.ts under
 * tsx: tsx's loader costs ~0.6 s of CPU in every process (~0.4 s for the whole compiled CLI),
 * and the suite runs the CLI about seventy times. The compilation is what tsx does, file by
 * file with esbuild and the same tsconfig, done once per change of the CLI's sources.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildSync } from 'esbuild';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliRun> {
  try {
    const r = await promisify(execFile)(process.execPath, [...cliCommand(), ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let compiled: string | undefined;

/**
 * Node's arguments that run `cloister` (then its own arguments follow): src/cli/main.ts and the
 * sources it imports, compiled into .tmp/test-cli-HASH/ (inside the checkout, so that packages
 * resolve from node_modules), HASH over those sources: a change makes a new folder.
 */
export function cliCommand(): string[] {
  compiled ??= compileCli();
  return [compiled];
}

function compileCli(): string {
  // The sources the CLI imports, as esbuild resolves them (packages stay imports).
  const { metafile } = buildSync({
    entryPoints: ['src/cli/main.ts'],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(metafile.inputs).sort();
  const hash = createHash('sha256');
  for (const file of inputs) hash.update(`${file}\0`).update(readFileSync(file));
  const dir = resolve('.tmp', `test-cli-${hash.digest('hex').slice(0, 16)}`);
  const main = join(dir, 'cli', 'main.js');
  if (existsSync(main)) return main;
  mkdirSync('.tmp', { recursive: true });
  const building = mkdtempSync(join('.tmp', 'test-cli-build-'));
  // One output file per source (imports between them stay as written), as tsx compiles them.
  buildSync({
    entryPoints: inputs,
    outdir: building,
    outbase: 'src',
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node}`,
    tsconfig: 'tsconfig.json',
    logLevel: 'warning',
  });
  try {
    renameSync(building, dir);
  } catch {
    // Another test process compiled the same sources meanwhile: use theirs.
    rmSync(building, { recursive: true, force: true });
  }
  return main;
}
