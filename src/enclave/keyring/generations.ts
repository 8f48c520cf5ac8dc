/**
 * The rule every keyring rotates its keys by: a rotation makes generation + 1, in which every
 * key still in use retires (at `retireAt`, or earlier if it already had), keys retired at least
 * `retentionSeconds` before `now` are dropped (nothing that could still name them exists), and
 * one fresh key is appended. Keyring-specific keys (the credential keyring's X25519 keys, the
 * auth keyring's ES256 keys) share it; README.md here states why retention is what it is.
 */
export interface Retirable {
  /** null while the key is in use. */
  readonly retiredAt: number | null;
}

export function rotateKeys<K extends Retirable>(
  keys: readonly K[],
  fresh: K,
  at: { now: number; retireAt: number; retentionSeconds: number },
): K[] {
  const kept = keys
    .map((k) =>
      k.retiredAt === null || k.retiredAt > at.retireAt ? { ...k, retiredAt: at.retireAt } : k,
    )
    .filter((k) => k.retiredAt === null || k.retiredAt + at.retentionSeconds > at.now);
  return [...kept, fresh];
}
