-- 003_aggregates: signed performance aggregates (issue 4) and the jobs that compute them.
-- A signed result is public by design (its owner shares it), so operators may read it; the job
-- table holds only the request's window, symbols and progress counters, never a key.

-- A session whose key the exchange rejected is `invalid`: its ciphertext is purged like a revoked one.
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_status_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_status_check
  CHECK (status IN ('active', 'revoked', 'expired', 'invalid'));

CREATE TABLE aggregate_jobs (
  id            uuid PRIMARY KEY,
  session_id    uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  status        text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  request       jsonb NOT NULL,
  requests_made integer NOT NULL DEFAULT 0 CHECK (requests_made >= 0),
  fills_seen    integer NOT NULL DEFAULT 0 CHECK (fills_seen >= 0),
  error_code    text CHECK (error_code ~ '^[A-Z][A-Z0-9_]{1,63}$'),
  aggregate_id  bigint,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'failed') = (error_code IS NOT NULL)),
  CHECK ((status = 'done') = (aggregate_id IS NOT NULL))
);
CREATE INDEX aggregate_jobs_running_idx ON aggregate_jobs (created_at) WHERE status = 'running';

-- The signed payload is stored as its exact JCS text (the signature covers those bytes; a jsonb
-- round trip could renormalize numbers). Its log leaf is found by subject and payload digest.
ALTER TABLE aggregates ALTER COLUMN payload TYPE text USING payload::text;
ALTER TABLE aggregates ADD COLUMN job_id uuid UNIQUE REFERENCES aggregate_jobs (id) ON DELETE SET NULL;
ALTER TABLE aggregates ADD COLUMN payload_digest text CHECK (payload_digest ~ '^[0-9a-f]{64}$');
ALTER TABLE aggregate_jobs ADD CONSTRAINT aggregate_jobs_aggregate_fk
  FOREIGN KEY (aggregate_id) REFERENCES aggregates (id) ON DELETE SET NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON aggregate_jobs TO app_service;
GRANT SELECT ON aggregate_jobs TO operator_readonly;
