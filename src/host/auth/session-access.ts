/**
 * Sessions belong to the user who created them (`sessions.user_id`). Routes that submit, revoke,
 * read the status or the log entries of a session, or request and poll its aggregates, call
 * this first: no token → 401, another user's session or job → the same 404 as a missing one (so
 * ids cannot be probed). With AUTH_DISABLED_FOR_DEVELOPMENT and no token, only sessions without
 * an owner are reachable, and new sessions have none (the seed's quick start).
 */
import type { FastifyRequest } from 'fastify';
import type { OperatorRepository } from '../db/repositories/operator.js';
import { HostError } from '../errors.js';
import type { AuthGuard } from './guard.js';

export function createSessionAccess(deps: {
  guard: Pick<AuthGuard, 'user' | 'authenticate'>;
  owners: Pick<OperatorRepository, 'sessionOwner' | 'jobOwner'>;
}) {
  const { guard, owners } = deps;
  return {
    /** The authenticated context's hook does this for every route; kept for routes that ask. */
    authenticate: (request: FastifyRequest) => guard.authenticate(request),
    /** The user id to store on a new session: null only in development mode without a token. */
    async owner(request: FastifyRequest): Promise<string | null> {
      return (await guard.user(request))?.sub ?? null;
    },
    async checkSession(request: FastifyRequest, sessionId: string): Promise<void> {
      const claims = await guard.user(request);
      const owner = await owners.sessionOwner(sessionId);
      if (!mayAccess(claims?.sub, owner)) throw new HostError('SESSION_NOT_FOUND');
    },
    async checkJob(request: FastifyRequest, jobId: string): Promise<void> {
      const claims = await guard.user(request);
      const owner = await owners.jobOwner(jobId);
      if (!mayAccess(claims?.sub, owner)) throw new HostError('JOB_NOT_FOUND');
    },
  };
}
export type SessionAccess = ReturnType<typeof createSessionAccess>;

/**
 * A token's user reaches only their own sessions. Without a token (development mode only: the
 * guard refuses a missing token otherwise) only sessions that have no owner are reachable, so
 * the open quick start never exposes a registered user's session. A missing row passes: the
 * route's own lookup answers its 404.
 */
function mayAccess(user: string | undefined, owner: string | null | undefined): boolean {
  if (owner === undefined) return true;
  return user !== undefined ? owner === user : owner === null;
}
