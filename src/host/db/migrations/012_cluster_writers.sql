-- 012_cluster_writers (issue 13: several instances on one database).
--
-- log_head: one row that every instance locks (SELECT … FOR UPDATE) inside the transaction that
-- appends a batch to the transparency log, so appends from any number of instances run one
-- after another: each reads, under the lock, the leaves and checkpoint committed before it,
-- hands its enclave a consistency proof from that enclave's last checkpoint to this head, and
-- writes the next leaves after it. The head itself is the newest row of log_checkpoints; this
-- row only carries the lock (one source of truth for the size).
CREATE TABLE log_head (
  id  boolean PRIMARY KEY DEFAULT true CHECK (id)
);
INSERT INTO log_head (id) VALUES (true);
GRANT SELECT, UPDATE ON log_head TO app_service;

-- spent_envelopes: the sender (ephemeral) key of every credential envelope a session was
-- stored from, hashed, written in the session's own transaction. Its primary key makes a second
-- instance's insert of the same envelope fail (ENVELOPE_REPLAYED) although that instance's
-- enclave has never seen it. Rows are only needed while the envelope is fresh (expires_at =
-- the enclave's replay horizon); the TTL sweep deletes older ones.
CREATE TABLE spent_envelopes (
  sender_key_hash  text PRIMARY KEY CHECK (sender_key_hash ~ '^[0-9a-f]{64}$'),
  expires_at       timestamptz NOT NULL
);
CREATE INDEX spent_envelopes_expires_at ON spent_envelopes (expires_at);
GRANT SELECT, INSERT, DELETE ON spent_envelopes TO app_service;
