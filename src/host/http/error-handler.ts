/**
 * The one place where failures become HTTP answers: `{ "error": { code, message, details? } }`
 * (and `not_before` with ENVELOPE_BEFORE_START: the enclave's earliest accepted issued_at)
 * with the status from host/errors.ts. Messages are the fixed ones from that table; validation
 * details name the field and the rule broken, never the value sent. No stack trace ever leaves.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isPoolWaitTimeout } from '../db/database.js';
import { EnclaveCallError } from '../enclave-client/rpc-client.js';
import { HTTP_ERRORS, HostError, errorBody, fromRpcCode } from '../errors.js';

interface ZodIssueLike {
  code?: string;
  path?: PropertyKey[];
  message?: string;
  errors?: ZodIssueLike[][];
}

/** Flattens zod issues (choosing the closest branch of a union) to path + rule. */
function issueDetails(
  issues: ZodIssueLike[],
  prefix: string[] = [],
): { path: string; issue: string }[] {
  return issues.flatMap((i) => {
    const path = [...prefix, ...(i.path ?? []).map(String)];
    if (i.code === 'invalid_union' && i.errors && i.errors.length > 0) {
      const best = [...i.errors].sort((a, b) => a.length - b.length)[0]!;
      return issueDetails(best, path);
    }
    // Our own refinements carry fixed messages; zod's built-in codes are self-explanatory.
    const issue = i.code === 'custom' && i.message ? i.message : (i.code ?? 'invalid');
    return [{ path: path.join('.') || '(root)', issue }];
  });
}

function toHostError(err: unknown): HostError {
  if (err instanceof HostError) return err;
  if (err instanceof EnclaveCallError) {
    if (err.code === 'ENCLAVE_BUSY') return new HostError('ENCLAVE_BUSY', undefined, 1);
    return err.code === 'ENCLAVE_UNAVAILABLE' || err.code === 'ENCLAVE_TIMEOUT'
      ? new HostError('ENCLAVE_UNAVAILABLE')
      : fromRpcCode(err.code, err.notBefore);
  }
  const e = err as Partial<FastifyError> & { code?: string; statusCode?: number };
  if (hasZodFastifySchemaValidationErrors(err)) {
    // fastify-type-provider-zod 7 flattens each zod issue to { keyword, instancePath, message }
    // (the union's closest branch already chosen); older versions nested it in params.issue.
    const issues = err.validation.map((v): ZodIssueLike => {
      const nested = (v.params as { issue?: ZodIssueLike } | undefined)?.issue;
      if (nested) return { ...nested };
      const flat = v as { keyword?: string; instancePath?: string; message?: string };
      return {
        code: flat.keyword,
        path: (flat.instancePath ?? '').split('/').filter((x) => x !== ''),
        message: flat.message,
      };
    });
    const ctx = err.validationContext === 'body' ? [] : [String(err.validationContext)];
    return new HostError('VALIDATION_FAILED', issueDetails(issues, ctx));
  }
  // The body's stream ended by the connection closing (Fastify's body reader marks it 400): no
  // answer can reach anyone, and it is not the request's fault, so not VALIDATION_FAILED.
  if (e.code === 'ECONNRESET' && e.statusCode === 400) return new HostError('CONNECTION_CLOSED');
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HostError('BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HostError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HostError('BODY_INVALID_JSON');
    case '23505': // unique_violation: an envelope's ephemeral key is already stored
      return new HostError('ENVELOPE_REPLAYED');
    case 'ECONNREFUSED':
    case '57P01':
    case '57P03':
    case '08006':
      return new HostError('DATABASE_UNAVAILABLE');
  }
  if (isPoolWaitTimeout(err)) return new HostError('DATABASE_UNAVAILABLE');
  if (e.statusCode === 429) return new HostError('RATE_LIMITED');
  if (e.statusCode === 400 && err instanceof SyntaxError) return new HostError('BODY_INVALID_JSON');
  if (e.statusCode === 404) return new HostError('NOT_FOUND');
  if (e.statusCode === 405) return new HostError('METHOD_NOT_ALLOWED');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HostError('VALIDATION_FAILED');
  }
  return new HostError('INTERNAL');
}

/** What is told of an error answer: the audit trail of refusals and the metrics. */
export interface ErrorReports {
  /** Told of every 401, 403 and 429 (the audit trail of refusals). */
  onDenied?: (request: FastifyRequest, status: number, code: string) => void;
  /** Told of every error answer's code (the metrics count them). */
  onCode?: (request: FastifyRequest, code: string) => void;
}

/**
 * Tells `reports` of an error answer: by the error handler, and by the answers Fastify makes
 * before routing, outside it (app.ts, frameworkErrors).
 */
export function reportError(
  reports: ErrorReports,
  request: FastifyRequest,
  code: HostError['code'],
): void {
  const status = HTTP_ERRORS[code][0];
  if (status === 401 || status === 403 || status === 429) reports.onDenied?.(request, status, code);
  reports.onCode?.(request, code);
}

export function installErrorHandler(
  app: FastifyInstance,
  retryAfterSeconds: () => number,
  reports: ErrorReports = {},
): void {
  app.setErrorHandler((err, request, reply) => {
    const he = toHostError(err);
    const status = HTTP_ERRORS[he.code][0];
    reportError(reports, request, he.code);
    if (he.retryAfterSeconds !== undefined)
      reply.header('retry-after', String(he.retryAfterSeconds));
    else if (status === 503) reply.header('retry-after', String(retryAfterSeconds()));
    if (status >= 500) {
      const e = err as { name?: string; code?: string };
      // 503 is load shedding or a restarting dependency, expected under stress: a warning, so a
      // login flood does not bury real errors.
      const level = status === 503 ? 'warn' : 'error';
      request.log[level]({ errType: e.name, errCode: e.code, code: he.code }, 'request failed');
    }
    void reply.code(status).send(
      errorBody(he.code, {
        ...(he.details ? { details: he.details } : {}),
        ...(he.notBefore !== undefined ? { not_before: he.notBefore } : {}),
      }),
    );
  });
}
