/**
 * Named statements on PGlite (issue 17). PGlite's `query` parses and plans its text at every
 * call (an unnamed statement, six protocol round trips into the WASM). PGlite runs PostgreSQL at
 * V8's baseline WASM tier (database.ts), where parsing and planning a statement with joins or
 * subqueries costs more than running it: the login's account lookup took ~0.75 ms of CPU
 * unnamed and ~0.2 ms prepared (bench/README.md, stop 24). So a statement the host names (`QueryOptions.name`, which
 * PostgreSQL prepares once per connection) is prepared here once too: Parse + Describe the
 * first time, then Bind + Describe + Execute + Sync in ONE protocol call.
 *
 * The same locks as PGlite's own `query`: outside a transaction the call takes PGlite's
 * transaction lock (it must not run inside another caller's open transaction on the one
 * connection) and its query lock (no other statement's messages in between); inside one, the
 * query lock only, and only while that transaction is open: a handle used after its transaction
 * ended is refused as PGlite's own `tx.query` refuses it (holding no transaction lock, it would
 * otherwise run in whichever transaction is open then, or in none). And once the locks are held
 * the database must still be open: a call queued behind `close()` would otherwise run during
 * the teardown, its write done and its answer (rows or error) lost. Values are serialized and
 * rows parsed by PGlite's own type handlers for the parameter types PostgreSQL reported, as
 * `query` does.
 */
import { parse, protocol, type PGlite, type Results, type Transaction } from '@electric-sql/pglite';
import { concatBytes } from '../../protocol/encoding.js';

const { serialize } = protocol;

/** SQLSTATE 26000: the named statement is gone (a new session); it is prepared again. */
const INVALID_SQL_STATEMENT_NAME = '26000';

export interface PgliteStatements {
  /** Runs `text` as the named statement `name`; `tx`: the caller's open transaction, if any. */
  query<R>(
    name: string,
    text: string,
    params: readonly unknown[],
    tx: Pick<Transaction, 'closed'> | null,
  ): Promise<R[]>;
}

export function pgliteStatements(db: PGlite): PgliteStatements {
  /** Name → its text and its parameters' type OIDs. */
  const prepared = new Map<string, { text: string; types: number[] }>();

  async function prepare(name: string, text: string) {
    const known = prepared.get(name);
    if (known) {
      // A name stands for one text (node-postgres refuses the same); a second text would run
      // the first one's plan with the second one's values.
      if (known.text !== text) throw new Error(`statement name ${name} used for two texts`);
      return known;
    }
    const r = await db.execProtocol(
      concatBytes(
        serialize.parse({ name, text }),
        serialize.describe({ type: 'S', name }),
        serialize.sync(),
      ),
      { syncToFs: false },
    );
    const st = { text, types: parse.parseDescribeStatementResults(r.messages) };
    prepared.set(name, st);
    return st;
  }

  async function run<R>(
    name: string,
    text: string,
    params: readonly unknown[],
    inTransaction: boolean,
  ): Promise<R[]> {
    const st = await prepare(name, text);
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serializer = db.serializers[st.types[i]!];
      return serializer ? serializer(v) : String(v);
    });
    const r = await db.execProtocol(
      concatBytes(
        serialize.bind({ statement: name, values }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ),
      // As PGlite's `query`: the files are synced after a statement outside a transaction,
      // not inside one (nor after its COMMIT: PGlite's `transaction` runs it as part of the
      // transaction). On a data folder (NodeFS) this sync does nothing anyway: PostgreSQL
      // writes its files itself, without fsync (docs/operations/runbook.md).
      { syncToFs: !inTransaction },
    );
    const results: Results<R>[] = parse.parseResults(r.messages, db.parsers) as Results<R>[];
    return results[0]?.rows ?? [];
  }

  async function runOnce<R>(
    name: string,
    text: string,
    params: readonly unknown[],
    inTransaction: boolean,
  ): Promise<R[]> {
    // Under the locks: close() takes them before it starts tearing down (PGlite checks this
    // before taking them only).
    await db._checkReady();
    try {
      return await run<R>(name, text, params, inTransaction);
    } catch (err) {
      if ((err as { code?: unknown }).code !== INVALID_SQL_STATEMENT_NAME) throw err;
      prepared.delete(name);
      return await run<R>(name, text, params, inTransaction);
    }
  }

  return {
    query: <R>(
      name: string,
      text: string,
      params: readonly unknown[],
      tx: Pick<Transaction, 'closed'> | null,
    ) => {
      if (!tx)
        return db._runExclusiveTransaction(() =>
          db._runExclusiveQuery(() => runOnce<R>(name, text, params, false)),
        );
      // Checked at the call, as PGlite's `tx.query` does: the lock is queued in the same tick,
      // ahead of the COMMIT or ROLLBACK that closes the transaction.
      if (tx.closed) return Promise.reject(new Error('Transaction is closed'));
      return db._runExclusiveQuery(() => runOnce<R>(name, text, params, true));
    },
  };
}
