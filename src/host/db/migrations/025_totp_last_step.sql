-- 025_totp_last_step (SECURITY.md, "Sign-in methods: second attack review").
--
-- The 30 s step of the last TOTP code accepted for the account. Each enclave remembers the steps
-- it accepted, in memory only: another cluster member, or the same one after a restart, would
-- accept an observed code again within its window. A session whose second factor was a TOTP
-- code is stored only if its step is newer than this one, in the same transaction.
ALTER TABLE auth_totp ADD COLUMN last_step bigint CHECK (last_step >= 0);
