-- Hardware platforms (docs/platforms/): the stored measurement is the platform's, 32 bytes
-- (SGX MRENCLAVE) or 48 bytes (SHA-384 of the bundle on simulated, TDX MRTD, SNP MEASUREMENT,
-- Nitro PCR0), lower-case hex. 001_init allowed only 48.
ALTER TABLE enclave_state DROP CONSTRAINT enclave_state_measurement_check;
ALTER TABLE enclave_state ADD CONSTRAINT enclave_state_measurement_hex
  CHECK (measurement ~ '^([0-9a-f]{64}|[0-9a-f]{96})$');
