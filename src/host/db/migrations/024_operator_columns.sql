-- 024_operator_columns (SECURITY.md, "Operator and data at rest: attack review").
--
-- operator_readonly reads metadata, results and logs. Two columns of the tables it reads are not
-- that: `users.email` names the person behind a user id (and so behind its sessions' exchange
-- and label, and its signed results), and `aggregates.account_salt` opens a v2 result's
-- exchange-account commitment (a guessed account id can be tested against the payload). Both
-- are withheld by granting the other columns only; a column added later is not readable until a
-- migration grants it.
REVOKE SELECT ON users, aggregates FROM operator_readonly;
GRANT SELECT (id, status, roles, created_at, updated_at) ON users TO operator_readonly;
GRANT SELECT (id, session_id, payload, signature, job_id, payload_digest, created_at)
  ON aggregates TO operator_readonly;

-- Only the schema owner creates objects in `public`. PostgreSQL before 15 gave PUBLIC that right
-- (a database made then keeps it after an upgrade): any login, an operator's included, could
-- plant a function or operator there that the service or a migration resolves instead of the
-- built-in one (a better-matching overload) and so runs with their rights.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
