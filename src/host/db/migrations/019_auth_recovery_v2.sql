-- Account recovery, second form (docs/protocol/auth.md "Account recovery"): the enclave's MAC
-- now also covers a completion deadline (`expires_at`, Unix seconds), the account's password
-- when the recovery was confirmed and a completion code that only the code holder has (never
-- stored here), and `password_sealed` is sealed for the recovery only (it does not open as a
-- password). Rows made under the first form cannot complete under the new MAC: they are
-- dropped (their code holders start again).
DELETE FROM auth_recoveries;
ALTER TABLE auth_recoveries
  ADD COLUMN expires_at bigint NOT NULL CHECK (expires_at >= unlock_at);
