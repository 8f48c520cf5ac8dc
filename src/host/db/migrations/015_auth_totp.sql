-- TOTP second factor (docs/protocol/auth.md "TOTP"). `sealed` is the secret sealed by the enclave
-- to the account (`ts1.…`, AES-256-GCM under a key derived from the auth keyring's binding key,
-- the user id as associated data): the host cannot read it, nor move it to another account.
-- `confirmed_at` NULL = an enrolment waiting for its first code (it does not count as a factor).
CREATE TABLE auth_totp (
  user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  sealed        text NOT NULL CHECK (sealed ~ '^ts1\.[A-Za-z0-9+/=]{40,200}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  confirmed_at  timestamptz
);

-- Recovery codes: only the enclave's HMAC of each (base64url, 32 bytes); a login spends one by
-- deleting its row.
CREATE TABLE auth_recovery_codes (
  user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  mac      text NOT NULL CHECK (mac ~ '^[A-Za-z0-9_-]{43}$'),
  PRIMARY KEY (user_id, mac)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON auth_totp, auth_recovery_codes TO app_service;
REVOKE ALL ON auth_totp, auth_recovery_codes FROM operator_readonly;
