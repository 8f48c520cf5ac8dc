/**
 * One HTTP/1.1 exchange over a node `http.Agent` (direct sockets or CONNECT tunnels), shared
 * by both transports: URL and header validation, an overall deadline, a response size limit,
 * no redirects (a 3xx is returned as is: following it would let a server send the signed
 * request elsewhere), and lower-cased response headers.
 */
import { request as httpRequest, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { HttpRequest, HttpResponse } from '../exchanges/types.js';
import { EgressError, toEgressError } from './errors.js';

export interface ExchangeLimits {
  /** Whole request, connect to last body byte. */
  timeoutMs: number;
  maxResponseBytes: number;
}
export const DEFAULT_LIMITS: ExchangeLimits = { timeoutMs: 30_000, maxResponseBytes: 16 << 20 };

/** Parses and checks the target: http(s) only, no credentials in the URL, a host. */
export function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EgressError('EGRESS_BAD_REQUEST', 'url');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new EgressError('EGRESS_BAD_REQUEST', 'scheme');
  if (url.username !== '' || url.password !== '' || url.hostname === '') {
    throw new EgressError('EGRESS_BAD_REQUEST', 'url');
  }
  return url;
}

/** `[hostname, port]` with IPv6 brackets removed and the scheme's default port. */
export function hostPort(url: URL): [string, number] {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return [host, url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80];
}

/**
 * Sends one request. A GET that fails with a reset on a *reused* keep-alive socket before any
 * answer (the server closed it while idle) is sent once more on a fresh one, as node's docs
 * advise (`request.reusedSocket`); nothing else is retried here.
 */
export async function send(
  req: HttpRequest,
  url: URL,
  agent: Agent,
  limits: ExchangeLimits,
  signal: AbortSignal | undefined,
  /** Tunnels carry TLS inside an http.Agent, so the http module drives them whatever the scheme. */
  viaHttpModule: boolean,
): Promise<HttpResponse> {
  try {
    return await attempt(req, url, agent, limits, signal, viaHttpModule);
  } catch (err) {
    if (!(err instanceof StaleSocketError)) throw err;
    return attempt(req, url, agent, limits, signal, viaHttpModule);
  }
}

/** A reset on a reused idle socket before any response byte (internal to `send`). */
class StaleSocketError extends EgressError {
  constructor() {
    super('EGRESS_NETWORK', 'ECONNRESET');
  }
}

function attempt(
  req: HttpRequest,
  url: URL,
  agent: Agent,
  limits: ExchangeLimits,
  signal: AbortSignal | undefined,
  viaHttpModule: boolean,
): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'POST')
    return Promise.reject(new EgressError('EGRESS_BAD_REQUEST', 'method'));
  if (signal?.aborted) return Promise.reject(new EgressError('EGRESS_ABORTED'));
  const [host, port] = hostPort(url);
  // Host as the URL names it (URL.host omits the scheme's default port); not the tunnel's view.
  const headers: Record<string, string> = Object.keys(req.headers).some(
    (k) => k.toLowerCase() === 'host',
  )
    ? { ...req.headers }
    : { host: url.host, ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const make = viaHttpModule || url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: EgressError | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        r.destroy();
        reject(err);
      } else resolve(res!);
    };
    let r: ReturnType<typeof httpRequest>;
    try {
      r = make({
        agent,
        host,
        port,
        // SNI carries names only (RFC 6066 §3); an IP target is checked against the IP SAN.
        ...(isIP(host) === 0 ? { servername: host } : {}),
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        setHost: false,
      });
    } catch (err) {
      reject(toEgressError(err));
      return;
    }
    const timer = setTimeout(() => finish(new EgressError('EGRESS_TIMEOUT')), limits.timeoutMs);
    const onAbort = () => finish(new EgressError('EGRESS_ABORTED'));
    signal?.addEventListener('abort', onAbort, { once: true });
    let answered = false;
    r.on('error', (err) => {
      const code = (err as { code?: string }).code;
      const stale =
        !answered &&
        r.reusedSocket &&
        req.method === 'GET' &&
        (code === 'ECONNRESET' || code === 'EPIPE');
      finish(stale ? new StaleSocketError() : toEgressError(err));
    });
    r.on('response', (res: IncomingMessage) => {
      answered = true;
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxResponseBytes) {
        finish(new EgressError('EGRESS_TOO_LARGE'));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > limits.maxResponseBytes) finish(new EgressError('EGRESS_TOO_LARGE'));
        else chunks.push(c);
      });
      res.on('error', (err) => finish(toEgressError(err)));
      res.on('aborted', () => finish(new EgressError('EGRESS_NETWORK', 'aborted')));
      res.on('end', () => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        }
        finish(null, {
          status: res.statusCode ?? 0,
          headers: out,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    r.end(req.body);
  });
}
