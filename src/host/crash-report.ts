/**
 * What the host prints when it crashes (an uncaught exception or an unhandled rejection), in
 * place of Node's own report, which is util.inspect of the error: every own field of it. A
 * database error carries the row's values there (PostgreSQL's `detail`, "Key (email)=(…)
 * already exists"; PGlite's `query` and `params`, the values being written), and a message may
 * quote its input (JSON.parse's does). So: what crashed, the error's class and a code that reads
 * as one, and the stack's frames (file positions) without the message; never a field's value.
 */

/** A code as libraries write them (`23505`, `ECONNRESET`, `ERR_…`), else nothing. */
const CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_FRAMES = 30;

function read<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

/** The stack's frame lines; none when the stack does not start with `name: message` as V8 writes it. */
function frames(err: Error): string[] {
  const stack = read(() => err.stack);
  const name = read(() => String(err.name));
  const message = read(() => String(err.message));
  if (typeof stack !== 'string' || name === undefined || message === undefined) return [];
  const head = message === '' ? name : `${name}: ${message}`;
  // A message holding a newline and "    at" would otherwise pass its text off as a frame.
  if (!stack.startsWith(`${head}\n`)) return [];
  return stack
    .slice(head.length + 1)
    .split('\n')
    .filter((l) => /^ {4}at \S/.test(l))
    .slice(0, MAX_FRAMES);
}

/** The report's lines (`what`: "uncaught exception", "unhandled rejection"), newline-terminated. */
export function crashReport(what: string, err: unknown): string {
  if (!(err instanceof Error)) return `cloister: fatal: ${what}: ${typeof err}\n`;
  const name = read(() => err.constructor.name) || 'Error';
  const code = read(() => (err as { code?: unknown }).code);
  const tag = typeof code === 'string' && CODE.test(code) ? ` (${code})` : '';
  const lines = [`cloister: fatal: ${what}: ${CODE.test(name) ? name : 'Error'}${tag}`];
  return `${[...lines, ...frames(err)].join('\n')}\n`;
}

/** Replaces Node's crash report with crashReport, on stderr, and exits 70 (EX_SOFTWARE). */
export function reportCrashes(): void {
  const fatal = (what: string) => (err: unknown) => {
    process.stderr.write(crashReport(what, err));
    process.exit(70);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
}
