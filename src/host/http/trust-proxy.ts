/**
 * TRUST_PROXY and the client address the rate limits key on. `true` would believe every
 * X-Forwarded-For hop, so a client could name its own address and pick its own rate-limit
 * bucket; only what Fastify can bound is accepted: a hop count (the proxies in front of the
 * host) or the proxies' addresses/CIDRs. IPv6 clients are keyed by their /64, the smallest
 * block one subscriber usually gets, so rotating addresses inside it does not buy new budgets;
 * an IPv4 client that a translator presents as an IPv6 address is keyed by its IPv4 address.
 */
import { BlockList, isIP, isIPv6 } from 'node:net';
import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HostError } from '../errors.js';

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
    if (bits === 0) {
      // Every address: the same as true (and a range Fastify's proxy-addr throws on).
      ctx.addIssue({
        code: 'custom',
        message: `${entry} would trust every X-Forwarded-For hop, like true; give the proxies' addresses or CIDRs`,
      });
      return z.NEVER;
    }
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

/**
 * The form Fastify takes. A hop count becomes a function trusting that many hops: Fastify's own
 * number form trusts none (it cannot tell the proxy from a client that reached the host
 * directly, which is why a hop count is only for hosts reachable through the proxy alone).
 */
export function fastifyTrustProxy(
  t: TrustProxy,
): boolean | string[] | ((addr: string, hop: number) => boolean) {
  if (typeof t !== 'number') return t;
  return (_addr, hop) => hop < t;
}

/** IPv6 clients are keyed by this prefix length (as @fastify/rate-limit's `ipv6Subnet` would). */
export const IPV6_SUBNET = 64;

/**
 * IPv6 prefixes whose addresses carry an IPv4 client in their last 32 bits: the well-known
 * NAT64/SIIT prefix 64:ff9b::/96 (RFC 6052, what a stateless translator in front of an
 * IPv6-only host gives IPv4 clients) and the IPv4-translated ::ffff:0:0:0/96 (RFC 2765). Keyed
 * by their /64, every IPv4 client behind the translator would share one budget (and the
 * second one that of ::1).
 */
const TRANSLATED_IPV4 = new BlockList();
TRANSLATED_IPV4.addSubnet('64:ff9b::', 96, 'ipv6');
TRANSLATED_IPV4.addSubnet('::ffff:0:0:0', 96, 'ipv6');

/** The IPv4 address inside a translated IPv6 address (TRANSLATED_IPV4), else null. */
function translatedIPv4(ip: string): string | null {
  if (!isIPv6(ip) || !TRANSLATED_IPV4.check(ip, 'ipv6')) return null;
  // The URL parser writes the address in hex groups, compressed; the last two are the IPv4.
  const groups = new URL(`http://[${ip}]`).hostname.slice(1, -1).split(':');
  const word = (g: string | undefined) => (g ? parseInt(g, 16) : 0);
  const hi = word(groups.at(-2));
  const lo = word(groups.at(-1));
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/**
 * The rate-limit key of a client address, as @fastify/rate-limit computes it (IPv4 as is, an
 * IPv4-mapped IPv6 address as its IPv4 address, any other IPv6 address as its /64 prefix),
 * except that a translated IPv4 client (TRANSLATED_IPV4) is keyed by its IPv4 address too.
 */
export const clientKey = (ip: string): string => translatedIPv4(ip) ?? normalizeIP(ip, IPV6_SUBNET);

/**
 * The client key of a request, or null once its connection is gone: Node clears the socket's
 * address when it is destroyed, which happens between a request's hooks when bytes that are not
 * HTTP follow it on the same connection (the parser's error closes the connection after the
 * request was let in). Fastify's `req.ip` is then undefined although typed as a string.
 */
export function requestClientKey(req: FastifyRequest): string | null {
  const ip = req.ip as string | undefined;
  return ip === undefined ? null : clientKey(ip);
}

/**
 * The rate limits' key (global and per route). A request whose connection is gone is refused
 * with CONNECTION_CLOSED: nothing is done for it, no answer can reach anyone, and it is not
 * an error of the service (the plugin's own key threw a TypeError there, logged as INTERNAL).
 */
export function rateLimitKey(req: FastifyRequest): string {
  const key = requestClientKey(req);
  if (key === null) throw new HostError('CONNECTION_CLOSED');
  return key;
}
