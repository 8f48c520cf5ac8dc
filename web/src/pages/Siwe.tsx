/**
 * Sign-In with Ethereum, offered only when the browser has an injected wallet (EIP-1193
 * `window.ethereum`); otherwise the method is not shown. The wallet signs the EIP-4361 text
 * (formatted by src/protocol/siwe.ts, the parser the enclave uses) with personal_sign; the
 * enclave checks domain, nonce, times and signature.
 */
import { addr } from 'micro-eth-signer';
import { formatSiweMessage } from '../../../src/protocol/siwe.js';
import { api } from '../api.js';
import { Message, useAction } from '../components.js';
import { navigate } from '../router.js';
import { signedIn } from '../sign-in.js';

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

function wallet(): Eip1193 | null {
  const eth = (globalThis as { ethereum?: Partial<Eip1193> }).ethereum;
  return eth && typeof eth.request === 'function' ? (eth as Eip1193) : null;
}

export function siweAvailable(): boolean {
  return wallet() !== null;
}

async function siweLogin(eth: Eip1193): Promise<void> {
  const accounts = (await eth.request({ method: 'eth_requestAccounts' })) as string[];
  const first = accounts[0];
  if (!first) throw new Error('The wallet shared no account');
  const address = addr.addChecksum(first);
  const chainId = Number.parseInt(String(await eth.request({ method: 'eth_chainId' })), 16);
  const { nonce } = await api<{ nonce: string }>('/auth/siwe/nonce', { auth: false });
  const message = formatSiweMessage({
    domain: location.host,
    address,
    statement: 'Sign in to Cloister.',
    uri: location.origin,
    chainId,
    nonce,
    issuedAt: new Date().toISOString(),
  });
  const signature = (await eth.request({
    method: 'personal_sign',
    params: [
      `0x${[...new TextEncoder().encode(message)].map((b) => b.toString(16).padStart(2, '0')).join('')}`,
      address,
    ],
  })) as string;
  const t = await api<{ access_token: string; refresh_token: string; user_id?: string }>(
    '/auth/siwe/login',
    { method: 'POST', body: { message, signature }, auth: false },
  );
  await signedIn(t);
}

export function SiweMethod() {
  const { busy, msg, run: act } = useAction();
  const run = () =>
    act(async () => {
      const eth = wallet();
      if (!eth) return;
      await siweLogin(eth);
      navigate('/keys');
    });
  return (
    <div>
      <p>Your browser wallet signs a sign-in message for this site; no transaction is sent.</p>
      <button type="button" disabled={busy} onClick={() => void run()}>
        Sign in with Ethereum
      </button>
      {msg && <Message kind={msg.kind}>{msg.text}</Message>}
    </div>
  );
}
