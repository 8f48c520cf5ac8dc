-- 010_cluster (docs/protocol/cluster.md): the cluster manifest, one row per split epoch, and the
-- keyrings wrapped under the cluster root at genesis (later generations are wrapped too and are
-- stored where they always were: enclave_state, auth_state). Nothing here opens without the root.
CREATE TABLE cluster_manifests (
  epoch       integer PRIMARY KEY CHECK (epoch > 0),
  cluster_id  text NOT NULL CHECK (cluster_id ~ '^[0-9a-f]{64}$'),
  manifest    jsonb NOT NULL,
  digest      text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
  -- HMAC under a key derived from the root: the enclave refuses a manifest without it.
  mac         text NOT NULL CHECK (mac ~ '^[0-9a-f]{64}$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cluster_keyrings (
  purpose     text NOT NULL CHECK (purpose IN ('credential', 'auth', 'carry')),
  generation  integer NOT NULL CHECK (generation > 0),
  wrapped     text NOT NULL CHECK (is_base64(wrapped)),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (purpose, generation)
);

-- The service's least-privilege role reads and writes both (a reshare adds a manifest epoch;
-- keyring rows are written at genesis and on each rotation). Without these grants a service
-- running as an app_service login cannot start in a cluster.
GRANT SELECT, INSERT ON cluster_manifests, cluster_keyrings TO app_service;
