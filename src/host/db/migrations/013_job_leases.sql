-- 013_job_leases (issue 13: several instances on one database). A scheduled job that must run
-- once per cluster, not once per instance (key rotation), takes this row's lease before it
-- runs: an UPDATE that succeeds only when the lease is free, expired or already the caller's.
-- The holder that dies mid-run loses it at `until`; another instance then takes over.
CREATE TABLE job_leases (
  name    text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
  holder  text NOT NULL CHECK (length(holder) BETWEEN 1 AND 100),
  until   timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON job_leases TO app_service;
GRANT SELECT ON job_leases TO operator_readonly;
