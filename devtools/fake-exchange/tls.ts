/**
 * A throwaway certificate authority for the fake exchange's HTTPS mode (tests and demos only):
 * an ECDSA P-256 root made at start with @peculiar/x509 over WebCrypto, and one server
 * certificate for 127.0.0.1, localhost and the real API host names, so a client can keep the
 * production URLs and reach the fake through a CONNECT tunnel. Nothing is persisted except the
 * CA certificate, where the caller asks for it.
 */
// The SDK's minimal Reflect metadata shim, which @peculiar/x509 needs before it loads.
import '../../src/client/attestation/reflect-shim.js';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export const API_HOSTS = ['api.binance.com', 'api.bybit.com', 'www.okx.com', 'api.coinbase.com'];

export interface ThrowawayPki {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIG = { name: 'ECDSA', hash: 'SHA-256' } as const;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

export async function createThrowawayPki(
  hostnames: readonly string[] = API_HOSTS,
): Promise<ThrowawayPki> {
  const crypto = webcrypto as unknown as Crypto;
  x509.cryptoProvider.set(crypto);
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 7 * 86_400_000);
  const caKeys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Cloister fake-exchange throwaway CA',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: SIG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = [
    ...hostnames.map((h) => ({ type: 'dns' as const, value: h })),
    { type: 'dns' as const, value: 'localhost' },
    { type: 'ip' as const, value: '127.0.0.1' },
  ];
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${hostnames[0] ?? 'localhost'}`,
    issuer: ca.subject,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: SIG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keyDer = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    caPem: ca.toString('pem') + '\n',
    certPem: cert.toString('pem') + '\n',
    keyPem: pem('PRIVATE KEY', keyDer),
  };
}
