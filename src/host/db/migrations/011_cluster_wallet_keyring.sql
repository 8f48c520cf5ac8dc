-- The wallet keyring is wrapped under the cluster root at genesis like the credential and auth
-- keyrings (010_cluster.sql), so a member that joins can open wallets made before genesis.
ALTER TABLE cluster_keyrings DROP CONSTRAINT cluster_keyrings_purpose_check;
ALTER TABLE cluster_keyrings
  ADD CONSTRAINT cluster_keyrings_purpose_check
  CHECK (purpose IN ('credential', 'auth', 'wallet', 'carry'));
