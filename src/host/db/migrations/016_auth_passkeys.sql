-- Passkeys (docs/protocol/auth.md "Passkeys") are login methods like SIWE addresses: one
-- `auth_methods` row each, `identifier` = the credential id (base64url), plus the credential's
-- COSE public key (base64url) and its last sign counter. `binding` is the enclave's MAC over
-- (passkey, credential id, user id, public key, counter), re-made at every login, so the host
-- can neither substitute a key nor lower the counter without the enclave refusing the row.
ALTER TABLE auth_methods DROP CONSTRAINT IF EXISTS auth_methods_kind_check;
ALTER TABLE auth_methods ADD CONSTRAINT auth_methods_kind_check
  CHECK (kind IN ('siwe', 'email', 'passkey'));
ALTER TABLE auth_methods ADD COLUMN public_key text
  CHECK (public_key ~ '^[A-Za-z0-9_-]+$' AND length(public_key) BETWEEN 40 AND 2048);
ALTER TABLE auth_methods ADD COLUMN counter bigint CHECK (counter BETWEEN 0 AND 4294967295);
ALTER TABLE auth_methods ADD CONSTRAINT auth_methods_passkey_fields
  CHECK ((kind = 'passkey') = (public_key IS NOT NULL AND counter IS NOT NULL));
