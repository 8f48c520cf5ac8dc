/**
 * GET /healthz: the process answers. GET /readyz: ready only while the enclave answers (and
 * misses no heartbeat) and the database is reachable, each within 2 s (what a load balancer
 * should route on). Neither is rate limited; concurrent /readyz probes share one check.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Queryable } from '../../db/database.js';
import type { EnclaveSupervisor } from '../../enclave-client/supervisor.js';

const ReadySchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  enclave: z.boolean(),
  database: z.boolean(),
  /** Present while the instance waits for its cluster quorum (docs/operations/cluster.md). */
  phase: z.literal('awaiting_quorum').optional(),
});

/** `check`'s answer, or false when it takes longer than `timeoutMs` (a probe must not hang). */
async function within(check: Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), timeoutMs);
  });
  try {
    return await Promise.race([check.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: {
  enclave: Pick<EnclaveSupervisor, 'isReady' | 'call'>;
  db: Pick<Queryable, 'query'>;
  cluster?: { isLocked(): boolean };
}): FastifyPluginAsyncZod {
  // One check at a time: the probes that arrive while one runs share its answer. /readyz is not
  // rate limited (load balancers poll it), so a flood of probes must not become one enclave call
  // and one query each.
  let running: Promise<{ enclave: boolean; database: boolean }> | undefined;
  const check = async () => {
    // isReady() is false from the first missed heartbeat until the enclave is back.
    const enclave =
      deps.enclave.isReady() &&
      (await within(deps.enclave.call('enclave.status', {}).then((s) => s.phase === 'ready')));
    const database = await within(deps.db.query('SELECT 1').then(() => true));
    return { enclave, database };
  };
  const readiness = () =>
    (running ??= check().finally(() => {
      running = undefined;
    }));
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { rateLimit: false },
        schema: { summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } },
      },
      async () => ({ status: 'ok' as const }),
    );
    app.get(
      '/readyz',
      {
        config: { rateLimit: false },
        schema: { summary: 'Readiness', response: { 200: ReadySchema, 503: ReadySchema } },
      },
      async (_request, reply) => {
        const { enclave, database } = await readiness();
        const ok = enclave && database;
        return reply.code(ok ? 200 : 503).send({
          status: ok ? 'ready' : 'not_ready',
          enclave,
          database,
          ...(deps.cluster?.isLocked() ? { phase: 'awaiting_quorum' as const } : {}),
        });
      },
    );
  };
}
