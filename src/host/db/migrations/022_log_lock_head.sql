-- log_lock_head() (issue 17): the log head lock and the head read in one round trip. A batch
-- transaction used to send `SELECT id FROM log_head WHERE id FOR UPDATE` and then read the
-- newest checkpoint: two statements inside the part of a batch that every writer runs one
-- after another. The function does both, in that order, in one call.
--
-- Why a function and not one statement: under READ COMMITTED a statement's snapshot is taken
-- when it starts, before it waits for the lock, so a single `WITH … FOR UPDATE` statement could
-- read the head as it was before the batch that held the lock committed, and sign over a stale
-- head. A VOLATILE function takes a fresh snapshot for each statement it runs: the read below
-- starts after the lock is held, so it sees every batch committed before (the same as the two
-- statements did; `test/host/log-lock-head.test.ts` checks it on PostgreSQL with two writers).
--
-- Raises if the log_head row is missing (migration 012 inserts it); returns no row while the
-- log has no checkpoint. Runs with the caller's rights (app_service may lock log_head and read
-- log_checkpoints); nobody else may run it.
CREATE FUNCTION log_lock_head()
  RETURNS TABLE (tree_size bigint, root_hash text, note text)
  LANGUAGE plpgsql VOLATILE
  AS $$
  BEGIN
    PERFORM 1 FROM log_head h WHERE h.id FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'log_head row missing (migration 012)';
    END IF;
    RETURN QUERY
      SELECT c.tree_size, c.root_hash, c.note FROM log_checkpoints c
       ORDER BY c.tree_size DESC LIMIT 1;
  END
  $$;

REVOKE ALL ON FUNCTION log_lock_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION log_lock_head() TO app_service;
