-- The same row checks, cheaper (issue 17). PostgreSQL's regex engine matches a bounded
-- repetition such as '^[0-9a-f]{64}$' slowly (~10-17 µs a value here, against <1 µs for a
-- length test plus a negated character class), and a submission writes five such values: on a
-- log batch of 512 leaves the two checks of merkle_logs were most of the INSERT's time. Each
-- new check accepts exactly what the old one did: `x ~ '^[S]{n}$'` is `length(x) = n AND
-- x !~ '[^S]'` (no newline-sensitive matching is in effect, so '^' and '$' are the string's
-- ends). Existing rows are checked again when the constraints are added.
ALTER TABLE merkle_logs DROP CONSTRAINT merkle_logs_leaf_hash_check,
  ADD CONSTRAINT merkle_logs_leaf_hash_check
    CHECK (length(leaf_hash) = 64 AND leaf_hash !~ '[^0-9a-f]');
ALTER TABLE merkle_logs DROP CONSTRAINT merkle_logs_subject_check,
  ADD CONSTRAINT merkle_logs_subject_check
    CHECK (length(subject) <= 64 AND subject !~ '[^A-Za-z0-9_-]');
ALTER TABLE credentials DROP CONSTRAINT credentials_key_id_check,
  ADD CONSTRAINT credentials_key_id_check
    CHECK (length(key_id) = 43 AND key_id !~ '[^A-Za-z0-9_-]');
ALTER TABLE credentials DROP CONSTRAINT credentials_envelope_digest_check,
  ADD CONSTRAINT credentials_envelope_digest_check
    CHECK (length(envelope_digest) = 64 AND envelope_digest !~ '[^0-9a-f]');
ALTER TABLE sessions DROP CONSTRAINT sessions_label_check,
  ADD CONSTRAINT sessions_label_check
    CHECK (length(label) BETWEEN 1 AND 64 AND label ~ '^[A-Za-z0-9]' AND label !~ '[^A-Za-z0-9 _.-]');
