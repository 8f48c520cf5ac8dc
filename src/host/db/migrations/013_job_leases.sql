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

-- An aggregates job runs in the enclave of one instance. `runner` names it and `runner_until`
-- is its lease, renewed at every poll: other instances' pollers leave the job alone while the
-- lease holds (their enclaves do not know it), and take it over, restarting it from the stored
-- ciphertext, once it lapses (its instance died).
ALTER TABLE aggregate_jobs ADD COLUMN runner text CHECK (length(runner) BETWEEN 1 AND 100);
ALTER TABLE aggregate_jobs ADD COLUMN runner_until timestamptz;

-- Discovery through the shared database: each ready member that has CLUSTER_ADVERTISE_URL
-- records it here; an instance with no root and no CLUSTER_JOIN asks these members to join it
-- (the attested join checks the member's answer, so a row the host forged gains nothing).
CREATE TABLE cluster_members (
  url          text PRIMARY KEY CHECK (url ~ '^https?://' AND length(url) <= 2048),
  measurement  text NOT NULL CHECK (measurement ~ '^[0-9a-f]{1,200}$'),
  seen_at      timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE, DELETE ON cluster_members TO app_service;
GRANT SELECT ON cluster_members TO operator_readonly;
