-- 007_retention: indexes for the retention purge (repositories/retention.ts), and the schema
-- version made readable by the service's login, which checks it at start instead of migrating.
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);
CREATE INDEX auth_sessions_revoked_idx ON auth_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX auth_sessions_created_idx ON auth_sessions (created_at);
CREATE INDEX ops_logs_created_idx ON ops_logs (created_at);
CREATE INDEX aggregate_jobs_finished_idx ON aggregate_jobs (updated_at) WHERE status <> 'running';

GRANT SELECT ON schema_migrations TO app_service;
