-- 001_init: the seed's tables, sealed enclave state, roles and the TTL cleanup function.
-- Same SQL on PGlite and PostgreSQL. Secret-bearing tables: credentials, enclave_state.

CREATE FUNCTION is_base64(v text) RETURNS boolean
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT v ~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' $$;

CREATE TABLE users (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email       text UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  id          uuid PRIMARY KEY,
  user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
  exchange    text NOT NULL CHECK (exchange IN ('binance', 'bybit', 'okx', 'coinbase')),
  label       text NOT NULL CHECK (label ~ '^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$'),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'expired')),
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  ended_at    timestamptz,
  CHECK (expires_at > created_at),
  CHECK ((status = 'active') = (ended_at IS NULL))
);
CREATE INDEX sessions_active_expiry_idx ON sessions (expires_at) WHERE status = 'active';

-- Ciphertext and public values only. For HPKE envelopes `ephemeral_pub` holds `enc` and the
-- tag is the last 16 bytes of `ciphertext` (nonce and tag are then NULL).
CREATE TABLE credentials (
  session_id      uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
  alg             text NOT NULL CHECK (alg IN ('X25519-HKDF-SHA256-A256GCM',
                                               'HPKE-Base-X25519-SHA256-A128GCM',
                                               'HPKE-Base-X25519-SHA256-A256GCM')),
  key_id          text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9_-]{43}$'),
  ephemeral_pub   text NOT NULL UNIQUE
                  CONSTRAINT credentials_ephemeral_pub_base64 CHECK (is_base64(ephemeral_pub) AND length(ephemeral_pub) = 44),
  nonce           text CONSTRAINT credentials_nonce_base64 CHECK (is_base64(nonce) AND length(nonce) = 16),
  ciphertext      text NOT NULL
                  CONSTRAINT credentials_ciphertext_base64 CHECK (is_base64(ciphertext) AND length(ciphertext) BETWEEN 4 AND 5500),
  tag             text CONSTRAINT credentials_tag_base64 CHECK (is_base64(tag) AND length(tag) = 24),
  binding         text NOT NULL
                  CONSTRAINT credentials_binding_base64 CHECK (is_base64(binding) AND length(binding) = 44),
  envelope_digest text NOT NULL CHECK (envelope_digest ~ '^[0-9a-f]{64}$'),
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  CONSTRAINT credentials_v1_fields CHECK (
    (alg = 'X25519-HKDF-SHA256-A256GCM') = (nonce IS NOT NULL AND tag IS NOT NULL))
);
CREATE INDEX credentials_expiry_idx ON credentials (expires_at);

CREATE TABLE aggregates (
  id          bigserial PRIMARY KEY,
  session_id  uuid REFERENCES sessions (id) ON DELETE SET NULL,
  payload     jsonb NOT NULL,
  signature   text NOT NULL CHECK (is_base64(signature)),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE merkle_logs (
  leaf_index  bigint PRIMARY KEY CHECK (leaf_index >= 0),
  session_id  uuid,
  entry       jsonb NOT NULL,
  leaf_hash   text NOT NULL CHECK (leaf_hash ~ '^[0-9a-f]{64}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ops_logs (
  id          bigserial PRIMARY KEY,
  event_type  text NOT NULL CHECK (event_type ~ '^[a-z_]+\.[a-z_]+$'),
  session_id  uuid,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_logs_session_idx ON ops_logs (session_id);

-- The enclave keyring, sealed under the platform sealing key; one row per generation.
CREATE TABLE enclave_state (
  generation  integer PRIMARY KEY CHECK (generation > 0),
  sealed      text NOT NULL CONSTRAINT enclave_state_sealed_base64 CHECK (is_base64(sealed)),
  policy      text NOT NULL CHECK (policy IN ('signer', 'measurement')),
  measurement text NOT NULL CHECK (measurement ~ '^[0-9a-f]{96}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Deletes expired ciphertext and marks its sessions expired; returns the affected session ids.
CREATE FUNCTION cleanup_expired_credentials() RETURNS TABLE (session_id uuid)
  LANGUAGE sql VOLATILE
  AS $$
    WITH purged AS (
      DELETE FROM credentials c WHERE c.expires_at <= now() RETURNING c.session_id
    ), expired AS (
      UPDATE sessions s SET status = 'expired', ended_at = now()
       WHERE s.status = 'active' AND s.expires_at <= now() RETURNING s.id
    )
    SELECT purged.session_id FROM purged
    UNION
    SELECT expired.id FROM expired
  $$;

-- Roles are cluster-wide on a PostgreSQL server; create them once, grant per database.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_service') THEN
    CREATE ROLE app_service NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'operator_readonly') THEN
    CREATE ROLE operator_readonly NOLOGIN;
  END IF;
END
$$;

REVOKE ALL ON FUNCTION cleanup_expired_credentials() FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO app_service, operator_readonly;

GRANT SELECT, INSERT, UPDATE, DELETE
  ON users, sessions, credentials, aggregates, merkle_logs, ops_logs, enclave_state TO app_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO app_service;
GRANT EXECUTE ON FUNCTION cleanup_expired_credentials() TO app_service;

-- Operators read metadata, results and logs; never ciphertext or sealed state.
GRANT SELECT ON users, sessions, aggregates, merkle_logs, ops_logs TO operator_readonly;
REVOKE ALL ON credentials, enclave_state FROM operator_readonly;
