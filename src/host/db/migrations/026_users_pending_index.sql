-- 026_users_pending_index (SECURITY.md, "Operator and data at rest: second attack review").
--
-- The retention sweep deletes unconfirmed registrations (`status = 'pending'`) past
-- AUTH_SESSION_RETENTION_DAYS on every run: without this index each run would read the whole
-- users table to find the few pending rows.
CREATE INDEX users_pending_created_idx ON users (created_at) WHERE status = 'pending';
