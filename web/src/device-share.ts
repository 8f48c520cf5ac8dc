/**
 * The wallet's device share at rest in this browser: IndexedDB, never in the clear. The 33
 * share bytes are encrypted with AES-256-GCM (WebCrypto) under a key derived from the user's
 * passphrase by PBKDF2-SHA256 (600 000 iterations, OWASP's figure, 16-byte random salt); the
 * wallet id, kind and generation are the associated data, so a record cannot be relabelled.
 * A wrong passphrase fails the GCM tag: "wrong passphrase".
 */
const DB = 'cloister-wallet-shares';
const STORE = 'shares';
const ITERATIONS = 600_000;

export interface StoredShare {
  wallet_id: string;
  kind: 'device';
  generation: number;
  kdf: 'PBKDF2-SHA256';
  iterations: number;
  salt: string;
  iv: string;
  ciphertext: string;
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const aad = (r: Pick<StoredShare, 'wallet_id' | 'kind' | 'generation'>) =>
  new TextEncoder().encode(`cloister/device-share/v1|${r.wallet_id}|${r.kind}|${r.generation}`);

function db(): Promise<IDBDatabase> {
  return new Promise((ok, no) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'wallet_id' });
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
}

async function tx<T>(
  mode: IDBTransactionMode,
  f: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const d = await db();
  return new Promise((ok, no) => {
    const r = f(d.transaction(STORE, mode).objectStore(STORE));
    r.onsuccess = () => ok(r.result);
    r.onerror = () => no(r.error);
  });
}

async function keyFrom(
  passphrase: string,
  salt: Uint8Array,
  iterations: number,
): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(passphrase),
    'PBKDF2',
    false,
    ['deriveKey'],
  );
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export async function saveDeviceShare(
  walletId: string,
  generation: number,
  share: Uint8Array,
  passphrase: string,
): Promise<void> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const meta = { wallet_id: walletId, kind: 'device' as const, generation };
  const key = await keyFrom(passphrase, salt, ITERATIONS);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: aad(meta) },
      key,
      share as BufferSource,
    ),
  );
  const record: StoredShare = {
    ...meta,
    kdf: 'PBKDF2-SHA256',
    iterations: ITERATIONS,
    salt: b64(salt),
    iv: b64(iv),
    ciphertext: b64(ct),
  };
  await tx('readwrite', (s) => s.put(record));
}

export async function hasDeviceShare(walletId: string): Promise<boolean> {
  return (await tx('readonly', (s) => s.get(walletId))) !== undefined;
}

/** The device share, or an Error('wrong passphrase') / Error('no device share here'). */
export async function openDeviceShare(walletId: string, passphrase: string): Promise<Uint8Array> {
  const r = (await tx('readonly', (s) => s.get(walletId))) as StoredShare | undefined;
  if (!r) throw new Error('no device share for this wallet in this browser');
  const key = await keyFrom(passphrase, unb64(r.salt), r.iterations);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: unb64(r.iv) as BufferSource, additionalData: aad(r) },
        key,
        unb64(r.ciphertext) as BufferSource,
      ),
    );
  } catch {
    throw new Error('wrong passphrase (the device share did not decrypt)');
  }
}
