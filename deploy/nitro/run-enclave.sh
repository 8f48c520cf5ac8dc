#!/bin/sh
# Entry point inside the Nitro enclave: NSM helper, sealing-key release, vsock bridges, enclave.
# The enclave has no network; its only channel is vsock to the parent (CID 3).
set -eu
umask 077
mkdir -p /run/cloister

/usr/local/bin/cloister-nsm-helper "$NSM_HELPER_SOCKET" &
while [ ! -S "$NSM_HELPER_SOCKET" ]; do sleep 0.1; done

# Key release is deployment-specific: an agent that proves this enclave's attestation document
# to a KMS (for example kmstool_enclave_cli decrypt through a vsock-proxy to AWS KMS, with a key
# policy on kms:RecipientAttestation:PCR0) and writes 32 bytes to $SEALING_KEY_FILE. Without it
# the enclave refuses to start.
if [ -x /usr/local/bin/cloister-key-release ]; then
  /usr/local/bin/cloister-key-release "$SEALING_KEY_FILE"
fi

# Host -> enclave RPC: vsock port 5005 to the enclave's Unix socket.
socat VSOCK-LISTEN:5005,fork,reuseaddr "UNIX-CONNECT:$ENCLAVE_SOCKET_PATH" &
# Enclave -> host egress tunnel: the enclave's egress socket to the parent's vsock port 5006.
socat "UNIX-LISTEN:$EGRESS_PROXY_SOCKET,fork,mode=600" VSOCK-CONNECT:3:5006 &

exec node /app/enclave.mjs
