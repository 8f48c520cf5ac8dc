-- Wallet custody (docs/protocol/wallet-shares.md). The host stores only what the enclave hands
-- it: the server share as AES-256-GCM ciphertext under a per-user DEK, public keys and
-- addresses, the owner's policy rules, the recovery time-lock, and the enclave's MAC over all
-- of it (state_mac), so an edited row is refused. Daily spend counters are enclave-MACed too.
CREATE TABLE wallet_keyring (
  generation  integer PRIMARY KEY CHECK (generation > 0),
  sealed      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wallets (
  id                   uuid PRIMARY KEY,
  user_id              uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  label                text NOT NULL CHECK (char_length(label) <= 200),
  generation           integer NOT NULL CHECK (generation > 0),
  version              integer NOT NULL CHECK (version > 0),
  -- {nonce, ciphertext, tag} as JSON text; NULL once deleted (purged).
  server_share         text,
  ethereum_xpub        text NOT NULL,
  accounts             text NOT NULL,
  policy_rules         text NOT NULL DEFAULT '[]',
  recovery_started_at  bigint,
  recovery_unlock_at   bigint,
  state_mac            text NOT NULL CHECK (state_mac ~ '^[0-9a-f]{64}$'),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  deleted_at           timestamptz,
  CHECK ((recovery_started_at IS NULL) = (recovery_unlock_at IS NULL)),
  CHECK ((deleted_at IS NULL) = (server_share IS NOT NULL))
);
CREATE INDEX wallets_user_idx ON wallets (user_id) WHERE deleted_at IS NULL;

CREATE TABLE wallet_daily_spend (
  wallet_id  uuid NOT NULL REFERENCES wallets (id) ON DELETE CASCADE,
  day        text NOT NULL CHECK (day ~ '^\d{4}-\d{2}-\d{2}$'),
  spent_wei  numeric(78, 0) NOT NULL CHECK (spent_wei >= 0),
  mac        text NOT NULL CHECK (mac ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (wallet_id, day)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON wallet_keyring, wallets, wallet_daily_spend TO app_service;
REVOKE ALL ON wallet_keyring, wallets, wallet_daily_spend FROM operator_readonly;
