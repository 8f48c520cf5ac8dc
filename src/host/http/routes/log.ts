/**
 * The transparency log over HTTP (docs/protocol/transparency-log.md): the latest checkpoint,
 * entries by range or by session, and inclusion and consistency proofs. Everything here is
 * public and verifiable; nothing here needs the enclave, so it keeps serving while it restarts.
 */
import type { SessionAccess } from '../../auth/session-access.js';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bytesToBase64 } from '../../../protocol/encoding.js';
import { sessionLogSubject } from '../../../protocol/log/entry.js';
import { HostError } from '../../errors.js';
import type { LogService } from '../../log/log-service.js';
import type { LogStore } from '../../log/log-store.js';
import { ErrorResponseSchema, SessionIdSchema } from '../schemas.js';

/** Most entries one page (or one session's listing) returns. */
export const LOG_PAGE_MAX = 1000;

const Index = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const B64Hash = z.string();

const CheckpointSchema = z.object({
  origin: z.string(),
  size: z.number().int(),
  root_hash: B64Hash,
  checkpoint: z.string(),
});
const EntrySchema = z.object({ index: z.number().int(), entry: z.string(), leaf_hash: B64Hash });

function b64FromHex(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/**
 * `public`: checkpoint, entries and proofs, for anyone. `session`: a session's own entries, its
 * owner's to read (docs/protocol/auth.md); app.ts registers it inside the authenticated context.
 */
export function logRoutes(deps: {
  log: LogService;
  store: LogStore;
  access: Pick<SessionAccess, 'checkSession'>;
}): { public: FastifyPluginAsyncZod; session: FastifyPluginAsyncZod } {
  /** The latest checkpoint, or the latest one witnesses cosigned (its lines appended). */
  async function latest(witnessed = false) {
    if (witnessed) {
      const w = await deps.store.latestWitnessed();
      if (!w) throw new HostError('LOG_NOT_WITNESSED');
      const cp = w.checkpoint;
      const note = cp.note + w.lines.map((l) => `${l}\n`).join('');
      return { origin: deps.log.origin(), size: cp.size, root_hash: cp.rootHash, checkpoint: note };
    }
    const cp = deps.log.latest();
    if (!cp) throw new HostError('LOG_UNAVAILABLE');
    const lines = await deps.store.cosignatures(cp.size);
    const note = cp.note + lines.map((l) => `${l}\n`).join('');
    return { origin: deps.log.origin(), size: cp.size, root_hash: cp.rootHash, checkpoint: note };
  }
  const Witnessed = z.enum(['true', 'false']).optional();
  function checkSize(size: number): void {
    if (size > deps.log.tree().size) throw new HostError('LOG_RANGE_INVALID');
  }
  const proofOf = (hashes: Uint8Array[]) => hashes.map(bytesToBase64);

  const publicRoutes: FastifyPluginAsyncZod = async (app) => {
    // Other instances on the same database append too: read their leaves first.
    app.addHook('preHandler', () => deps.log.sync());
    app.get(
      '/api/log/checkpoint',
      {
        schema: {
          summary:
            'The latest signed checkpoint (C2SP tlog-checkpoint in a signed note, with any witness cosignatures); witnessed=true: the latest cosigned one',
          querystring: z.object({ witnessed: Witnessed }).strict(),
          response: { 200: CheckpointSchema, 404: ErrorResponseSchema, 503: ErrorResponseSchema },
        },
      },
      async (req) => latest(req.query.witnessed === 'true'),
    );

    app.get(
      '/api/log/entries',
      {
        schema: {
          summary: `Entries [start, end), at most ${LOG_PAGE_MAX}; entry is the exact leaf text`,
          querystring: z.object({ start: Index, end: Index }).strict(),
          response: {
            200: z.object({ start: z.number(), end: z.number(), entries: z.array(EntrySchema) }),
            400: ErrorResponseSchema,
          },
        },
      },
      async (req) => {
        const { start, end } = req.query;
        if (end < start || end - start > LOG_PAGE_MAX) throw new HostError('LOG_RANGE_INVALID');
        checkSize(end);
        const rows = await deps.store.entries(start, end);
        return {
          start,
          end,
          entries: rows.map((r) => ({
            index: r.index,
            entry: r.entry,
            leaf_hash: b64FromHex(r.leafHash),
          })),
        };
      },
    );

    app.get(
      '/api/log/proof/inclusion',
      {
        schema: {
          summary: 'RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves',
          querystring: z.object({ index: Index, size: Index.optional() }).strict(),
          response: {
            200: z.object({
              index: z.number(),
              size: z.number(),
              leaf_hash: B64Hash,
              proof: z.array(B64Hash),
            }),
            400: ErrorResponseSchema,
          },
        },
      },
      async (req) => {
        const size = req.query.size ?? deps.log.tree().size;
        checkSize(size);
        if (req.query.index >= size) throw new HostError('LOG_RANGE_INVALID');
        const tree = deps.log.tree();
        return {
          index: req.query.index,
          size,
          leaf_hash: bytesToBase64(tree.leafHash(req.query.index)),
          proof: proofOf(tree.inclusionProof(req.query.index, size)),
        };
      },
    );

    app.get(
      '/api/log/proof/consistency',
      {
        schema: {
          summary: 'RFC 9162 consistency proof between tree sizes `from` and `to`',
          querystring: z.object({ from: Index, to: Index.optional() }).strict(),
          response: {
            200: z.object({ from: z.number(), to: z.number(), proof: z.array(B64Hash) }),
            400: ErrorResponseSchema,
          },
        },
      },
      async (req) => {
        const to = req.query.to ?? deps.log.tree().size;
        checkSize(to);
        if (req.query.from < 1 || req.query.from > to) throw new HostError('LOG_RANGE_INVALID');
        return {
          from: req.query.from,
          to,
          proof: proofOf(deps.log.tree().consistencyProof(req.query.from, to)),
        };
      },
    );
  };

  const sessionLogRoutes: FastifyPluginAsyncZod = async (app) => {
    app.addHook('preHandler', () => deps.log.sync());
    app.get(
      '/api/logs/:session_id',
      {
        schema: {
          summary: "A session's log entries with inclusion proofs against the latest checkpoint",
          params: z.object({ session_id: SessionIdSchema }).strict(),
          querystring: z.object({ witnessed: Witnessed }).strict(),
          response: {
            200: z.object({
              session_id: SessionIdSchema,
              checkpoint: CheckpointSchema,
              entries: z.array(EntrySchema.extend({ proof: z.array(B64Hash) })),
            }),
            404: ErrorResponseSchema,
            503: ErrorResponseSchema,
          },
        },
      },
      async (req) => {
        await deps.access.checkSession(req, req.params.session_id);
        // Proofs and checkpoint are taken together, synchronously, after the read.
        const rows = await deps.store.entriesForSubject(
          sessionLogSubject(req.params.session_id),
          LOG_PAGE_MAX,
        );
        const checkpoint = await latest(req.query.witnessed === 'true');
        const tree = deps.log.tree();
        if (checkpoint.size > tree.size) {
          // A cosigned checkpoint past this instance's tree (another member committed it since
          // the sync above): read its leaves; if they cannot be read, no proof can be given.
          await deps.log.sync();
          if (checkpoint.size > tree.size) throw new HostError('LOG_UNAVAILABLE');
        }
        const visible = rows.filter((r) => r.index < checkpoint.size);
        if (visible.length === 0) throw new HostError('SESSION_NOT_FOUND');
        return {
          session_id: req.params.session_id,
          checkpoint,
          entries: visible.map((r) => ({
            index: r.index,
            entry: r.entry,
            leaf_hash: b64FromHex(r.leafHash),
            proof: proofOf(tree.inclusionProof(r.index, checkpoint.size)),
          })),
        };
      },
    );
  };
  return { public: publicRoutes, session: sessionLogRoutes };
}
