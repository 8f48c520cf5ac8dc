-- 027_wallet_accounts_signature (SECURITY.md, "Client SDK and CLI: second attack review").
--
-- `share_digests`: the MACed record's new optional field (JSON { device, recovery }, the
-- splitAuthorizer digests of the generation's client shares), NULL for records split before it.
-- `accounts_signature`: the enclave's signature over the account list bound to those digests,
-- served with GET /wallets so the client can check the addresses it shows; NULL until the
-- wallet's next split (creation, recovery completion, reshare).
ALTER TABLE wallets ADD COLUMN share_digests text, ADD COLUMN accounts_signature text;
