/**
 * The SDK's one retry for a refusal by a recently started enclave (isomorphic). An enclave
 * process refuses envelopes dated before its `envelope_not_before` (boot +
 * ENVELOPE_MAX_FUTURE_SECONDS + 1) with `ENVELOPE_BEFORE_START` and the value in
 * `error.not_before`, so that a host restarting it cannot replay what an earlier process opened
 * (SECURITY.md, "Replay across restarts"). `sendWithFreshEnvelope` seals, sends, and on that
 * refusal seals once more, with a new sender key and `issued_at = max(now, not_before)`, and sends
 * that; any other failure, or a second refusal, is thrown as it came. The hint is unsigned: a host
 * that lies about it only makes the enclave refuse the retry (it checks the rule itself); a hint
 * more than an hour ahead of this clock is not followed.
 */

/** A hint further ahead of the client's clock than this is implausible: not followed. */
const MAX_HINT_AHEAD_SECONDS = 3600;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The `not_before` of an ENVELOPE_BEFORE_START refusal (an ApiError), else undefined. */
export function envelopeNotBeforeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, notBefore } = err as { code?: unknown; notBefore?: unknown };
  return code === 'ENVELOPE_BEFORE_START' &&
    typeof notBefore === 'number' &&
    Number.isSafeInteger(notBefore)
    ? notBefore
    : undefined;
}

/**
 * `seal(issuedAt)` must make a new envelope each time (a fresh sender key); `send` posts it.
 * `now` is for tests (seconds since the epoch).
 */
export async function sendWithFreshEnvelope<E, T>(
  seal: (issuedAt: number) => E | Promise<E>,
  send: (envelope: E) => Promise<T>,
  now: () => number = nowSeconds,
): Promise<T> {
  try {
    return await send(await seal(now()));
  } catch (err) {
    const notBefore = envelopeNotBeforeOf(err);
    const t = now();
    if (notBefore === undefined || notBefore > t + MAX_HINT_AHEAD_SECONDS) throw err;
    return send(await seal(Math.max(t, notBefore)));
  }
}
