/**
 * An enclave process accepts no envelope with `issued_at` before its `envelope_not_before`
 * (boot + ENVELOPE_MAX_FUTURE_SECONDS + 1; SECURITY.md "Replay across restarts"). Clients learn
 * it from a refusal (`ENVELOPE_BEFORE_START`, HTTP 425, `error.not_before`) or from this header
 * of GET /attestation/quote. Both are unsigned liveness hints: the enclave enforces the rule.
 */
export const ENVELOPE_NOT_BEFORE_HEADER = 'cloister-envelope-not-before';
