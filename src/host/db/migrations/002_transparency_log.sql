-- 002_transparency_log: the log's leaves as exact canonical text, and its signed checkpoints.
-- Both are public by design (anyone may verify the log), so operators may read them.

-- Entries are stored as their exact RFC 8785 bytes: the leaf hash is over those bytes, and a
-- jsonb round trip could reorder or renormalize them.
ALTER TABLE merkle_logs ALTER COLUMN entry TYPE text USING entry::text;
ALTER TABLE merkle_logs ADD COLUMN event_type text NOT NULL DEFAULT ''
  CHECK (event_type ~ '^([a-z_]+\.[a-z_]+)?$');
ALTER TABLE merkle_logs ALTER COLUMN event_type DROP DEFAULT;
-- A leaf names its subject as the entry does: a session appears only as a hash of its id
-- (a session id is a bearer capability and the log is public), a key event as the key id.
ALTER TABLE merkle_logs DROP COLUMN session_id;
ALTER TABLE merkle_logs ADD COLUMN subject text NOT NULL DEFAULT ''
  CHECK (subject ~ '^[A-Za-z0-9_-]{0,64}$');
ALTER TABLE merkle_logs ALTER COLUMN subject DROP DEFAULT;
CREATE INDEX merkle_logs_subject_idx ON merkle_logs (subject, leaf_index);

CREATE TABLE log_checkpoints (
  tree_size   bigint PRIMARY KEY CHECK (tree_size >= 0),
  root_hash   text NOT NULL CHECK (is_base64(root_hash) AND length(root_hash) = 44),
  note        text NOT NULL CHECK (length(note) BETWEEN 1 AND 65536),
  created_at  timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON log_checkpoints TO app_service;
GRANT SELECT ON log_checkpoints TO operator_readonly;

-- Append-only for the service: it never rewrites or deletes a logged leaf or a checkpoint.
REVOKE UPDATE, DELETE, TRUNCATE ON merkle_logs FROM app_service;

-- Witness cosignatures (C2SP tlog-cosignature) collected for checkpoints, one line per witness.
CREATE TABLE log_cosignatures (
  tree_size   bigint NOT NULL REFERENCES log_checkpoints (tree_size),
  witness     text NOT NULL CHECK (length(witness) BETWEEN 1 AND 255),
  line        text NOT NULL CHECK (line LIKE '— %' AND length(line) < 1024),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tree_size, witness)
);
GRANT SELECT, INSERT ON log_cosignatures TO app_service;
GRANT SELECT ON log_cosignatures TO operator_readonly;
