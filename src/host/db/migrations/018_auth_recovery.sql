-- Account recovery with a time-lock (docs/protocol/auth.md "Account recovery"): one pending
-- recovery per account. `password_sealed` is the new password as the enclave sealed it (never
-- the password); `mac` is the enclave's HMAC over (user id, id, unlock_at, password_sealed), so
-- editing `unlock_at` or the password here makes auth.recovery_complete refuse the row.
-- `unlock_at` is in Unix seconds as the enclave set it.
CREATE TABLE auth_recoveries (
  user_id          uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  id               uuid NOT NULL,
  unlock_at        bigint NOT NULL CHECK (unlock_at >= 0),
  password_sealed  text NOT NULL CHECK (password_sealed ~ '^ph1\.[A-Za-z0-9+/=]+$' AND length(password_sealed) <= 1028),
  mac              text NOT NULL CHECK (mac ~ '^[A-Za-z0-9_-]{43}$'),
  created_at       timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE, DELETE ON auth_recoveries TO app_service;
REVOKE ALL ON auth_recoveries FROM operator_readonly;
