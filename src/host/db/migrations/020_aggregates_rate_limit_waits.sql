-- A job's rate-limit waits, part of its progress (GET /enclave/aggregates/jobs/:id): how many
-- times the exchange said "too many requests" and the enclave waited it out, and the total wait
-- in milliseconds. Counters only, like requests_made and fills_seen.
ALTER TABLE aggregate_jobs
  ADD COLUMN rate_limit_waits   integer NOT NULL DEFAULT 0 CHECK (rate_limit_waits >= 0),
  ADD COLUMN rate_limit_wait_ms integer NOT NULL DEFAULT 0 CHECK (rate_limit_wait_ms >= 0);
