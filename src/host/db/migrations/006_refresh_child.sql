-- Refresh rotation links a used token to its successor (docs/protocol/auth.md "Grace window"):
-- a used token presented again may replay its sealed pair only while that successor is unused;
-- once the successor has been used too, the presentation is a reuse. NULL until the token is
-- rotated (and for tokens rotated before this migration: the age rule alone applies to them).
ALTER TABLE refresh_tokens ADD COLUMN child_hash text
  CHECK (child_hash ~ '^[0-9a-f]{64}$');
