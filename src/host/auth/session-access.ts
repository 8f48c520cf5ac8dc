/**
 * Sessions belong to the user who created them (`sessions.user_id`). Routes that submit, revoke,
 * read the status or the log entries of a session, or request and poll its aggregates, call
 * this first: no token → 401, another user's session or job → the same 404 as a missing one (so
 * ids cannot be probed). With AUTH_DISABLED_FOR_DEVELOPMENT and no token, only sessions without
 * an owner are reachable, and new sessions have none (the seed's quick start).
 */
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/database.js';
import { HostError } from '../errors.js';
import type { AuthGuard } from './guard.js';

export function createSessionAccess(deps: {
  guard: Pick<AuthGuard, 'user' | 'authenticate'>;
  db: Pick<Queryable, 'query'>;
}) {
  const { guard, db } = deps;
  return {
    /** Route `onRequest` hook: a missing or bad token is a 401 before validation runs. */
    authenticate: (request: FastifyRequest) => guard.authenticate(request),
    /** The user id to store on a new session: null only in development mode without a token. */
    async owner(request: FastifyRequest): Promise<string | null> {
      return (await guard.user(request))?.sub ?? null;
    },
    async checkSession(request: FastifyRequest, sessionId: string): Promise<void> {
      const claims = await guard.user(request);
      const { rows } = await db.query<{ user_id: string | null }>(
        'SELECT user_id FROM sessions WHERE id = $1',
        [sessionId],
      );
      if (!mayAccess(claims?.sub, rows[0]?.user_id)) throw new HostError('SESSION_NOT_FOUND');
    },
    async checkJob(request: FastifyRequest, jobId: string): Promise<void> {
      const claims = await guard.user(request);
      const { rows } = await db.query<{ user_id: string | null }>(
        'SELECT s.user_id FROM aggregate_jobs j JOIN sessions s ON s.id = j.session_id WHERE j.id = $1',
        [jobId],
      );
      if (!mayAccess(claims?.sub, rows[0]?.user_id)) throw new HostError('JOB_NOT_FOUND');
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
