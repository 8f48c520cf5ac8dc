/**
 * One sealed-keyring lifecycle for every keyring purpose (purposes.ts): adopt a first keyring,
 * load a stored one, and rotate in two steps. `prepare` seals the next generation and keeps it
 * pending with the exact blob handed out; `activate` switches to it only when the host presents
 * that generation AND that blob, i.e. once the host has stored it. So the enclave never uses a
 * key the host could fail to persist (a restart would lose it, and everything sealed to it), and
 * a repeated prepare cannot switch the enclave to keys the host never stored.
 *
 * Plaintext keyring bytes exist only inside `sealKeyring` and `load`, and are wiped there. What
 * wraps them is the `Sealer` (seal.ts), so the slot does not change when the wrapping does.
 */
import { RpcError } from '../../protocol/rpc/errors.js';
import type { SealPolicy } from '../../protocol/rpc/methods.js';
import type { Sealer } from './seal.js';

/** What a keyring must offer to be sealed: its generation and its plaintext form. */
export interface SealableKeyring {
  readonly generation: number;
  /** Plaintext bytes for sealing only; the slot wipes them. */
  serialize(): Uint8Array;
}

/** One row of the purpose table: how to read a keyring of this purpose back. */
export interface KeyringPurpose<K extends SealableKeyring> {
  readonly name: string;
  /** Parses unsealed bytes (the slot wipes them); throws on anything not of this purpose. */
  deserialize(plaintext: Uint8Array): K;
}

function sealKeyring(sealer: Sealer, policy: SealPolicy, keyring: SealableKeyring): string {
  const bytes = keyring.serialize();
  try {
    return sealer.seal(bytes, policy);
  } finally {
    bytes.fill(0);
  }
}

export class KeyringSlot<K extends SealableKeyring> {
  #active: K | null = null;
  #pending: { keyring: K; sealed: string } | null = null;
  #unsealed = false;

  constructor(readonly purpose: KeyringPurpose<K>) {}

  /** The keyring in use, or null before `adopt`/`load`. */
  get active(): K | null {
    return this.#active;
  }

  /**
   * True once this slot has loaded a stored blob in this process (never reset): its keys, and
   * any rotated from them, may protect data stored before (cluster/genesis-policy.ts).
   */
  get unsealed(): boolean {
    return this.#unsealed;
  }

  /**
   * Seals a newly generated keyring and uses it at once. Nothing sealed before can depend on
   * it, so if the host fails to store the blob it simply starts over.
   */
  adopt(sealer: Sealer, policy: SealPolicy, keyring: K): string {
    const sealed = sealKeyring(sealer, policy, keyring);
    this.#active = keyring;
    return sealed;
  }

  /** Unseals a stored blob and uses it; returns the policy it was sealed under. */
  load(sealer: Sealer, sealed: string): SealPolicy {
    const { plaintext, policy } = sealer.unseal(sealed);
    try {
      this.#active = this.purpose.deserialize(plaintext);
      this.#unsealed = true;
    } catch {
      throw new RpcError('SEAL_INVALID');
    } finally {
      plaintext.fill(0);
    }
    return policy;
  }

  /**
   * Moves to a newer generation another member of the cluster rotated to and the host stored
   * (sealed under the same cluster key, so only a genuine member's blob opens). Only strictly
   * newer generations: a host that hands back an older blob changes nothing (no downgrade).
   * Returns whether the active keyring changed.
   */
  reload(sealer: Sealer, sealed: string): boolean {
    const current = this.#active;
    if (!current) throw new RpcError('SEAL_INVALID');
    const { plaintext } = sealer.unseal(sealed);
    let next: K;
    try {
      next = this.purpose.deserialize(plaintext);
    } catch {
      throw new RpcError('SEAL_INVALID');
    } finally {
      plaintext.fill(0);
    }
    if (next.generation <= current.generation) return false;
    this.#active = next;
    this.#pending = null;
    return true;
  }

  /** Rotation step 1: seals `next` and holds it pending; replaces any earlier pending one. */
  prepare(sealer: Sealer, policy: SealPolicy, next: K): string {
    const sealed = sealKeyring(sealer, policy, next);
    this.#pending = { keyring: next, sealed };
    return sealed;
  }

  /**
   * Forgets a prepared rotation: its blob was sealed under what wrapped keyrings before (a
   * cluster genesis since wraps them under the root), so the host must prepare it again.
   */
  dropPending(): void {
    this.#pending = null;
  }

  /** Rotation step 2: only the pending keyring of this generation with this exact blob. */
  activate(generation: number, sealed: string): K {
    const p = this.#pending;
    if (!p || p.keyring.generation !== generation || p.sealed !== sealed)
      throw new RpcError('GENERATION_MISMATCH');
    this.#active = p.keyring;
    this.#pending = null;
    return p.keyring;
  }
}
