-- Authentication (docs/protocol/auth.md): sealed password hashes on users, the sealed auth
-- keyring, login sessions and their refresh tokens (SHA-256 only; the token itself is never
-- stored). The host cannot read a password hash: the enclave sealed it to itself and the user id.
-- Roles are metadata (operators may read them); the sealed hash lives in its own table, which
-- operator_readonly cannot read.
ALTER TABLE users ADD COLUMN roles text[] NOT NULL DEFAULT '{}'
  CHECK (roles <@ ARRAY['operator']::text[]);

CREATE TABLE user_passwords (
  user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  sealed      text NOT NULL CHECK (sealed LIKE 'ph1.%'),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_state (
  generation  integer PRIMARY KEY CHECK (generation > 0),
  sealed      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per login (a refresh-token family); `sid` in its access tokens.
CREATE TABLE auth_sessions (
  id              uuid PRIMARY KEY,
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  revoked_at      timestamptz,
  revoked_reason  text CHECK (revoked_reason IN ('logout', 'logout_all', 'refresh_reused', 'operator'))
);
CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  token_hash       text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  session_id       uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  used_at          timestamptz,
  -- The pair this token's refresh answered, sealed by the enclave to this token (grace retries).
  sealed_response  text
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

GRANT SELECT, INSERT, UPDATE, DELETE
  ON user_passwords, auth_state, auth_sessions, refresh_tokens TO app_service;
-- Nothing here is for operator_readonly: sealed blobs and token digests are not metadata.
REVOKE ALL ON user_passwords, auth_state, auth_sessions, refresh_tokens FROM operator_readonly;
