-- 007_aggregates_queue_cancel: fair queueing and cancellation of aggregates jobs, and the salt
-- that opens a v2 result's exchange-account commitment (issue 12 items 4, 5, 7).
--
-- `queued`: admitted (within the per-user, per-session and queue bounds) but not yet started in
-- the enclave; `cancelled`: its session was revoked, the enclave stopped it, nothing was signed.
ALTER TABLE aggregate_jobs DROP CONSTRAINT IF EXISTS aggregate_jobs_status_check;
ALTER TABLE aggregate_jobs ADD CONSTRAINT aggregate_jobs_status_check
  CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled'));
CREATE INDEX aggregate_jobs_queued_idx ON aggregate_jobs (created_at) WHERE status = 'queued';
CREATE INDEX aggregate_jobs_session_active_idx ON aggregate_jobs (session_id)
  WHERE status IN ('queued', 'running');

-- 32 random bytes (base64) chosen by the enclave; answered to the result's owner only. It is
-- not a credential, but whoever holds it can test a guessed account id against the public
-- payload (docs/protocol/signed-aggregates.md, "Who can open the commitment").
ALTER TABLE aggregates ADD COLUMN account_salt text CHECK (account_salt ~ '^[A-Za-z0-9+/]{43}=$');
