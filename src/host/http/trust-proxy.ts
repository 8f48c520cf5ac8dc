/**
 * TRUST_PROXY and the client address the rate limits key on. `true` would believe every
 * X-Forwarded-For hop, so a client could name its own address and pick its own rate-limit
 * bucket; only what Fastify can bound is accepted: a hop count (the proxies in front of the
 * host) or the proxies' addresses/CIDRs. IPv6 clients are keyed by their /64, the smallest
 * block one subscriber usually gets, so rotating addresses inside it does not buy new budgets.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export type TrustProxy = false | number | string[];

const CIDR = /^([0-9A-Fa-f.:]+)(?:\/(\d{1,3}))?$/;

export function parseTrustProxy(value: string, ctx: z.RefinementCtx): TrustProxy {
  const v = value.trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') {
    ctx.addIssue({
      code: 'custom',
      message:
        'true would trust every X-Forwarded-For hop, so a client could choose its own rate-limit key; give the number of proxies (1) or their addresses/CIDRs',
    });
    return z.NEVER;
  }
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= 10) return n;
    ctx.addIssue({ code: 'custom', message: 'a hop count must be 1 to 10' });
    return z.NEVER;
  }
  const list = v.split(',').map((s) => s.trim());
  for (const entry of list) {
    const m = CIDR.exec(entry);
    const family = m ? isIP(m[1]!) : 0;
    const bits = m?.[2] === undefined ? undefined : Number(m[2]);
    if (family === 0 || (bits !== undefined && bits > (family === 4 ? 32 : 128))) {
      ctx.addIssue({
        code: 'custom',
        message: 'each entry must be an IP address or CIDR (10.0.0.0/8, fd00::/8)',
      });
      return z.NEVER;
    }
  }
  return list;
}

/** Expands an IPv6 address to its 8 groups (numbers); undefined if it is not one. */
function ipv6Groups(ip: string): number[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let s = ip.split('%')[0]!;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/**
 * The rate-limit key of a client address: IPv4 as is, an IPv4-mapped IPv6 address as its IPv4
 * address, any other IPv6 address as its /64 prefix.
 */
export function clientKey(ip: string): string {
  const g = ipv6Groups(ip);
  if (!g) return ip;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
