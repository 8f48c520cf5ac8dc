/**
 * Sign-In with Ethereum (EIP-4361) messages: a strict parser (the enclave decides a login with
 * it) and the formatter clients use to build the text a wallet signs. The parser follows the
 * EIP's ABNF line by line: fields in their fixed order, each optional field at most once, no
 * extra lines, EIP-55 checksummed address, RFC 3986 authority/URIs, RFC 3339 timestamps that
 * name a real calendar date, a nonce of at least 8 alphanumerics. Anything else is refused,
 * so two parties can never read one signed text as two different messages.
 */
import { addr } from 'micro-eth-signer';

export interface SiweMessage {
  scheme?: string;
  domain: string;
  address: string;
  statement?: string;
  uri: string;
  version: '1';
  chainId: number;
  nonce: string;
  issuedAt: string;
  expirationTime?: string;
  notBefore?: string;
  requestId?: string;
  resources?: string[];
}

export class SiweParseError extends Error {
  constructor(readonly field: string) {
    super(`invalid SIWE message: ${field}`);
  }
}

/** Longest message accepted (a bound on parsing work; real messages are a few hundred bytes). */
export const SIWE_MAX_LENGTH = 8192;

const HEADER = ' wants you to sign in with your Ethereum account:';
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
// RFC 3986 authority: [userinfo "@"] host [":" port]; host an IP literal, IPv4 or reg-name.
const UNRESERVED_SUB = "A-Za-z0-9\\-._~!$&'()*+,;=";
const PCT = '%[0-9A-Fa-f]{2}';
const AUTHORITY = new RegExp(
  `^(?:(?:[${UNRESERVED_SUB}:]|${PCT})*@)?` +
    `(?:\\[[0-9A-Fa-f:.]+\\]|(?:[${UNRESERVED_SUB}]|${PCT})*)` +
    `(?::[0-9]*)?$`,
);
// An RFC 3986 URI: a scheme, then only URI characters (and well-formed percent escapes).
const URI = new RegExp(
  `^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=]|${PCT})*$`,
);
const STATEMENT = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;= ]+$/;
const NONCE = /^[A-Za-z0-9]{8,}$/;
const REQUEST_ID = new RegExp(`^(?:[${UNRESERVED_SUB}:@]|${PCT})*$`);
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 date-time naming a real instant (no 31 February, no hour 25); ms since epoch. */
export function parseDateTime(text: string, field = 'date-time'): number {
  const m = DATE_TIME.exec(text);
  if (!m) throw new SiweParseError(field);
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth || h! > 23 || mi! > 59 || s! > 60)
    throw new SiweParseError(field);
  if (m[8] !== 'Z' && (Number(m[9]) > 23 || Number(m[10]) > 59)) throw new SiweParseError(field);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new SiweParseError(field);
  return t;
}

/** The authority part of a URI (between "//" and the path), or null when it has none. */
export function uriAuthority(uri: string): string | null {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  return m ? m[1]! : null;
}

export function parseSiweMessage(text: string): SiweMessage {
  if (text.length > SIWE_MAX_LENGTH) throw new SiweParseError('length');
  const lines = text.split('\n');
  let i = 0;
  const next = (): string | undefined => lines[i++];

  const first = next() ?? '';
  if (!first.endsWith(HEADER)) throw new SiweParseError('header');
  let domain = first.slice(0, -HEADER.length);
  let scheme: string | undefined;
  const sep = domain.indexOf('://');
  if (sep >= 0) {
    scheme = domain.slice(0, sep);
    domain = domain.slice(sep + 3);
    if (!SCHEME.test(scheme)) throw new SiweParseError('scheme');
  }
  if (domain.length === 0 || !AUTHORITY.test(domain)) throw new SiweParseError('domain');

  const address = next() ?? '';
  if (!/^0x[0-9a-fA-F]{40}$/.test(address) || addr.addChecksum(address) !== address)
    throw new SiweParseError('address');
  if (next() !== '') throw new SiweParseError('statement');
  let statement: string | undefined;
  const maybe = next();
  if (maybe !== '') {
    if (maybe === undefined || !STATEMENT.test(maybe)) throw new SiweParseError('statement');
    statement = maybe;
    if (next() !== '') throw new SiweParseError('statement');
  }

  const field = (name: string, label: string, optional: boolean): string | undefined => {
    const line = lines[i];
    if (line !== undefined && line.startsWith(`${label}: `)) {
      i++;
      return line.slice(label.length + 2);
    }
    if (!optional) throw new SiweParseError(name);
    return undefined;
  };
  const uri = field('uri', 'URI', false)!;
  if (!URI.test(uri)) throw new SiweParseError('uri');
  if (field('version', 'Version', false) !== '1') throw new SiweParseError('version');
  const chainText = field('chainId', 'Chain ID', false)!;
  const chainId = Number(chainText);
  if (!/^[0-9]{1,15}$/.test(chainText) || !Number.isSafeInteger(chainId))
    throw new SiweParseError('chainId');
  const nonce = field('nonce', 'Nonce', false)!;
  if (!NONCE.test(nonce)) throw new SiweParseError('nonce');
  const issuedAt = field('issuedAt', 'Issued At', false)!;
  parseDateTime(issuedAt, 'issuedAt');
  const expirationTime = field('expirationTime', 'Expiration Time', true);
  if (expirationTime !== undefined) parseDateTime(expirationTime, 'expirationTime');
  const notBefore = field('notBefore', 'Not Before', true);
  if (notBefore !== undefined) parseDateTime(notBefore, 'notBefore');
  const requestId = field('requestId', 'Request ID', true);
  if (requestId !== undefined && !REQUEST_ID.test(requestId)) throw new SiweParseError('requestId');
  let resources: string[] | undefined;
  if (lines[i] === 'Resources:') {
    i++;
    resources = [];
    while (i < lines.length) {
      const line = lines[i++]!;
      if (!line.startsWith('- ') || !URI.test(line.slice(2))) throw new SiweParseError('resources');
      resources.push(line.slice(2));
    }
  }
  if (i !== lines.length) throw new SiweParseError('trailing');

  return {
    ...(scheme !== undefined ? { scheme } : {}),
    domain,
    address,
    ...(statement !== undefined ? { statement } : {}),
    uri,
    version: '1',
    chainId,
    nonce,
    issuedAt,
    ...(expirationTime !== undefined ? { expirationTime } : {}),
    ...(notBefore !== undefined ? { notBefore } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
    ...(resources !== undefined ? { resources } : {}),
  };
}

/** The EIP-4361 text of `m` (what a wallet shows and signs with EIP-191 personal_sign). */
export function formatSiweMessage(m: Omit<SiweMessage, 'version'> & { version?: '1' }): string {
  const head = `${m.scheme ? `${m.scheme}://` : ''}${m.domain}${HEADER}`;
  const lines = [head, m.address, ''];
  if (m.statement !== undefined) lines.push(m.statement, '');
  else lines.push('');
  lines.push(
    `URI: ${m.uri}`,
    'Version: 1',
    `Chain ID: ${m.chainId}`,
    `Nonce: ${m.nonce}`,
    `Issued At: ${m.issuedAt}`,
  );
  if (m.expirationTime !== undefined) lines.push(`Expiration Time: ${m.expirationTime}`);
  if (m.notBefore !== undefined) lines.push(`Not Before: ${m.notBefore}`);
  if (m.requestId !== undefined) lines.push(`Request ID: ${m.requestId}`);
  if (m.resources !== undefined) {
    lines.push('Resources:');
    for (const r of m.resources) lines.push(`- ${r}`);
  }
  return lines.join('\n');
}
