/**
 * A start-up failure the operator can fix: one line naming the cause and the variable to change,
 * and a sysexits(3) exit code. main.ts (and the CLIs) print the message alone, no stack trace.
 */

/** sysexits(3): the configuration is wrong (EX_CONFIG) or a needed service is missing (EX_UNAVAILABLE). */
export const EX_CONFIG = 78;
export const EX_UNAVAILABLE = 69;

export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode: typeof EX_CONFIG | typeof EX_UNAVAILABLE,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

const DB_UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * A PostgreSQL connection failure as a StartupError: never echoes the URL (it may hold a
 * password), only the error's code.
 */
export function databaseStartupError(err: unknown): StartupError {
  const code = (err as { code?: unknown }).code;
  const codeText = typeof code === 'string' ? code : 'unknown error';
  if (typeof code === 'string' && DB_UNREACHABLE.has(code)) {
    return new StartupError(
      `database unreachable (${codeText}): check that the server at DATABASE_URL is running`,
      EX_UNAVAILABLE,
      { cause: err },
    );
  }
  // 28P01/28000: authentication; 3D000: no such database; anything else: still DATABASE_URL.
  return new StartupError(
    `database refused the connection (${codeText}): check DATABASE_URL`,
    EX_CONFIG,
    { cause: err },
  );
}

/** The listen error of the HTTP server as a StartupError. */
export function listenStartupError(
  err: unknown,
  host: string,
  port: number,
  variable = 'PORT (or its alias ENCLAVE_PORT)',
): StartupError {
  const code = (err as { code?: unknown }).code;
  if (code === 'EADDRINUSE') {
    return new StartupError(
      `port ${port} on ${host} is already in use: stop the other process or set ${variable}`,
      EX_UNAVAILABLE,
      { cause: err },
    );
  }
  if (code === 'EACCES') {
    return new StartupError(
      `not allowed to listen on port ${port}: choose a port above 1023 with ${variable}`,
      EX_CONFIG,
      { cause: err },
    );
  }
  return new StartupError(
    `cannot listen on ${host}:${port} (${typeof code === 'string' ? code : 'error'}): check HOST and ${variable}`,
    EX_CONFIG,
    { cause: err },
  );
}
