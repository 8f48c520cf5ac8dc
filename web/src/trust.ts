/**
 * Trust first: the enclave's evidence is verified here, in this browser, by the SDK
 * (CryptoHelper.verifyAttestation), against what the user pinned: the measurement(s), the
 * cluster id and, for the simulated platform, its vendor key. Nothing is encrypted to a key
 * that did not verify against pins; every secret sent first re-verifies with a fresh nonce, so
 * a changed key is always checked before use, and a background check every 30 s notices a
 * change for the banner.
 */
import { CryptoHelper, pinEntryFor, type AttestationVerification } from '../../src/client/index.js';
import { readJson, Store, writeJson } from './store.js';

export interface Pins {
  /** Accepted measurements (hex). Empty: nothing pinned yet. */
  measurements: string[];
  /** The cluster id the enclave must prove, or '' for none. */
  clusterId: string;
  /** Simulated vendor keys (base64) trusted: development only. */
  vendorKeys: string[];
  /** Exchange API hosts accepted besides the official ones (a fake exchange, a testnet). */
  apiHosts: string[];
}

const PINS_KEY = 'cloister.pins.v1';
const EMPTY: Pins = { measurements: [], clusterId: '', vendorKeys: [], apiHosts: [] };

const storedPins = (): Pins => ({ ...EMPTY, ...readJson(localStorage, PINS_KEY, EMPTY) });
export const pins = new Store<Pins>(storedPins());
pins.subscribe(() => writeJson(localStorage, PINS_KEY, pins.get()));
// Pins saved by another tab of this browser (its Trust page, or storage cleared) hold here from
// then on, and the enclave is checked again: a tab open since must not go on sealing secrets to
// a measurement the user has just removed.
addEventListener('storage', (e) => {
  if (e.storageArea !== localStorage || (e.key !== null && e.key !== PINS_KEY)) return;
  pins.set(storedPins());
  void verifyEnclave();
});

export interface TrustState {
  /** verified: evidence and pins hold. unpinned: the evidence verifies but no measurement is
   * pinned yet. failed: refused (reasons). checking: under way. */
  status: 'checking' | 'verified' | 'unpinned' | 'failed';
  reasons: string[];
  /** What the service claims (shown even when refused, marked as such). */
  platform: string | null;
  measurement: string | null;
  clusterId: string | null;
  keyId: string | null;
  debug: boolean | null;
  checkedAt: string | null;
  /** The key id changed since the previous verification (and was verified again). */
  keyChanged: boolean;
  verification: AttestationVerification | null;
}

export const trust = new Store<TrustState>({
  status: 'checking',
  reasons: [],
  platform: null,
  measurement: null,
  clusterId: null,
  keyId: null,
  debug: null,
  checkedAt: null,
  keyChanged: false,
  verification: null,
});

interface Claimed {
  platform?: string;
  image_hash?: string;
  cluster_id?: string;
  key_id?: string;
}

/** Checks started, and the latest whose state is in `trust` (a late answer must not replace it). */
let started = 0;
let shown = 0;

/**
 * Fetches fresh evidence (own nonce) and verifies it against the pins; updates `trust`. A check
 * whose pins changed while it ran says nothing about the pins now held: it is run again with
 * them, so neither the banner nor a caller (requireTrusted) gets a verdict under pins the user
 * has since replaced. A check that ends after a later one leaves the banner to the later one.
 */
export async function verifyEnclave(): Promise<TrustState> {
  const p = pins.get();
  const seq = ++started;
  const state = await check(p, trust.get());
  if (pins.get() !== p) return verifyEnclave();
  if (seq > shown) {
    shown = seq;
    trust.set(state);
  }
  return state;
}

/** One check of fresh evidence against pins `p`; `previous` is the state shown until now. */
async function check(p: Pins, previous: TrustState): Promise<TrustState> {
  const nonce = CryptoHelper.newNonce();
  let attestation: unknown;
  try {
    const res = await fetch(`/attestation/quote?nonce=${nonce}`);
    attestation = await res.json();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    return {
      ...previous,
      status: 'failed',
      reasons: [`attestation could not be fetched: ${(err as Error).message}`],
      verification: null,
      checkedAt: new Date().toISOString(),
    };
  }
  const claimed = (attestation ?? {}) as Claimed;
  const unpinned = p.measurements.length === 0;
  // Unpinned, every other check still runs against the measurement the service claims, so the
  // user pins a measurement whose evidence verified (trust on first use, shown as such).
  const expected = unpinned ? [claimed.image_hash ?? ''] : p.measurements;
  const options = {
    nonce,
    trustedSimulatedVendorKeys: p.vendorKeys,
    ...(p.clusterId ? { expectClusterId: p.clusterId } : {}),
  };
  let v = await CryptoHelper.verifyAttestation(attestation, expected, options);
  // On TDX a pin must name RTMR0–2 beside MRTD (the image hash): unpinned, the check runs
  // against the entry that pins what this evidence measured, which is what the user may pin.
  if (unpinned && v.claims?.platform === 'tdx')
    v = await CryptoHelper.verifyAttestation(attestation, [pinEntryFor(v.claims)], options);
  return {
    status: v.valid ? (unpinned ? 'unpinned' : 'verified') : 'failed',
    reasons: v.reasons,
    platform: v.platform ?? claimed.platform ?? null,
    measurement: (v.claims ? pinEntryFor(v.claims) : v.measurement) ?? claimed.image_hash ?? null,
    clusterId: v.clusterId ?? claimed.cluster_id ?? null,
    keyId: v.keyId ?? claimed.key_id ?? null,
    debug: v.debug,
    checkedAt: new Date().toISOString(),
    keyChanged:
      previous.keyId !== null && v.keyId !== null && previous.keyId !== v.keyId
        ? true
        : previous.keyChanged,
    verification: v,
  };
}

/** A verification to encrypt to: fresh, valid and pinned, or an error saying why not. */
export async function requireTrusted(): Promise<AttestationVerification> {
  const s = await verifyEnclave();
  if (s.status === 'verified' && s.verification?.valid) return s.verification;
  throw new Error(
    s.status === 'unpinned'
      ? 'Pin the enclave measurement first (Trust page): nothing secret is sent to an enclave you have not pinned.'
      : `The enclave did not verify in this browser, nothing was sent: ${s.reasons.join('; ')}`,
  );
}

export function savePins(next: Partial<Pins>): void {
  pins.set({ ...pins.get(), ...next });
}

let timer: ReturnType<typeof setInterval> | null = null;
/** Verifies now and every 30 s (a key change is noticed and verified again). */
export function startTrustLoop(): void {
  void verifyEnclave();
  timer ??= setInterval(() => void verifyEnclave(), 30_000);
}
