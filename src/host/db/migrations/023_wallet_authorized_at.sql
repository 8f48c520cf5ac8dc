-- wallets.authorized_at: the `issued_at` of the share envelope that authorized the wallet's
-- latest change, part of the enclave-MACed record (docs/protocol/wallet-shares.md, "State the
-- host stores"). A changing action refuses an envelope issued before it, so a share envelope
-- replayed to another cluster member (whose replay cache never saw it) cannot undo a later
-- change. NULL for a wallet not changed since its creation (the record then has no such field).
ALTER TABLE wallets ADD COLUMN authorized_at bigint;
