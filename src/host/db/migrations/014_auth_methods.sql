-- Login methods other than the password (docs/protocol/auth.md "Login methods"): one row per
-- method linked to an account. `identifier` is the method's public name (a lower-case Ethereum
-- address for SIWE, the account's email for one-time codes); `binding` is the enclave's MAC over (kind, identifier, user id), checked
-- by the enclave at every login, so a host that rewrote `user_id` could not log a signer into
-- another account. Nothing here is secret, but it is not operator metadata either.
CREATE TABLE auth_methods (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind        text NOT NULL CHECK (kind IN ('siwe', 'email')),
  identifier  text NOT NULL CHECK (length(identifier) BETWEEN 1 AND 255),
  binding     text NOT NULL CHECK (binding ~ '^mb1\.[A-Za-z0-9_-]{43}$'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, identifier)
);
CREATE INDEX auth_methods_user_idx ON auth_methods (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON auth_methods TO app_service;
REVOKE ALL ON auth_methods FROM operator_readonly;

-- Registration confirmation (AUTH_REQUIRE_EMAIL_CONFIRMATION): a new account waits as
-- `pending`, unable to log in, until the code mailed to its address is entered.
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check
  CHECK (status IN ('active', 'disabled', 'pending'));
