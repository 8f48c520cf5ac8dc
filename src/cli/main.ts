#!/usr/bin/env node
/**
 * `cloister`: the command-line client, built on the SDK. The commands live in program.ts;
 * `cloister --help` lists them and `cloister <command> --help` explains each (options, an
 * example, the environment variables it reads).
 * Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 log alarm (log monitor).
 */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  // Commander has printed the help or the problem (an unknown command is named) already.
  const shown = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
  process.exit(shown || err.exitCode === 0 ? 0 : 2);
}
