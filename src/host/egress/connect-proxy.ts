/**
 * The host's egress proxy for enclaves with no network (EGRESS_MODE=tunnel, issue 4): an HTTP
 * CONNECT proxy (RFC 9110 §9.3.6) on a Unix socket or a loopback port. It opens tunnels only to
 * allow-listed `host:port` targets (403 otherwise), does no plain proxying (any other method:
 * 405), and then relays bytes: TLS runs end to end between the enclave and the exchange, so
 * this process sees `CONNECT host:port` and ciphertext only. Logs name the target and byte
 * counts, never payload. Idle tunnels are closed.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

export type ProxyListen = { socketPath: string } | { port: number; host?: string };

export interface ProxyLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface ConnectProxyOptions {
  listen: ProxyListen;
  /** `host:port` targets a tunnel may open, e.g. `api.binance.com:443` (case-insensitive). */
  allow: readonly string[];
  logger?: ProxyLogger;
  /** A tunnel with no bytes either way for this long is closed. */
  idleTimeoutMs?: number;
  /** Time to receive the CONNECT head, and to reach the target. */
  handshakeTimeoutMs?: number;
  maxTunnels?: number;
  /** How to reach a target; default `net.connect(port, host)`. Tests point names at a local server. */
  dial?: (host: string, port: number) => Socket;
}

export interface ProxyStats {
  tunnelsOpened: number;
  tunnelsRefused: number;
  active: number;
  bytesUp: number;
  bytesDown: number;
}

export interface ConnectProxy {
  /** `{ socketPath }` or `{ port }` actually bound. */
  address: { socketPath: string } | { port: number };
  stats(): ProxyStats;
  close(): Promise<void>;
}

const MAX_HEAD = 8192;
const AUTHORITY = /^([a-z0-9.-]+|\[[0-9a-f:.]+\]):(\d{1,5})$/i;

export function normalizeTarget(target: string): string | undefined {
  const m = AUTHORITY.exec(target.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return `${m[1]!.toLowerCase()}:${port}`;
}

/**
 * The allow-list for a set of exchange base URLs (`https://api.binance.com` →
 * `api.binance.com:443`). Only https URLs qualify: the enclave refuses plaintext in tunnel mode.
 */
export function allowListFromUrls(urls: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of urls) {
    const u = new URL(raw);
    if (u.protocol !== 'https:') continue;
    out.add(normalizeTarget(`${u.hostname}:${u.port === '' ? 443 : u.port}`) ?? '');
  }
  out.delete('');
  return [...out].sort();
}

/**
 * The allow-list entry for the enclave's mail relay (SMTP_URL): `smtps://host` → `host:465`,
 * `smtp://host` → `host:587` (STARTTLS, which the enclave requires there), or the URL's port.
 */
export function allowListFromSmtpUrl(url: string | undefined): string[] {
  if (url === undefined) return [];
  const u = new URL(url);
  const port = u.port !== '' ? u.port : u.protocol === 'smtps:' ? '465' : '587';
  const target = normalizeTarget(`${u.hostname}:${port}`);
  return target === undefined ? [] : [target];
}

function answer(sock: Socket, status: number, reason: string): void {
  sock.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export async function startConnectProxy(opts: ConnectProxyOptions): Promise<ConnectProxy> {
  const allow = new Set<string>();
  for (const a of opts.allow) {
    const n = normalizeTarget(a);
    if (n === undefined) throw new RangeError(`allow: not a host:port target: ${a}`);
    allow.add(n);
  }
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  const handshakeMs = opts.handshakeTimeoutMs ?? 10_000;
  const maxTunnels = opts.maxTunnels ?? 256;
  const dial = opts.dial ?? ((host: string, port: number) => netConnect(port, host));
  const log = opts.logger;
  const stats: ProxyStats = {
    tunnelsOpened: 0,
    tunnelsRefused: 0,
    active: 0,
    bytesUp: 0,
    bytesDown: 0,
  };
  const sockets = new Set<Socket>();

  const refuse = (client: Socket, status: number, reason: string, target?: string) => {
    stats.tunnelsRefused++;
    log?.warn({ target: target ?? null, status }, 'egress tunnel refused');
    answer(client, status, reason);
  };

  const onClient = (client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.setTimeout(handshakeMs, () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD) {
          client.off('data', onData);
          refuse(client, 431, 'Request Header Fields Too Large');
        }
        return;
      }
      client.off('data', onData);
      client.pause();
      const requestLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const parts = requestLine.split(' ');
      if (parts.length !== 3 || !/^HTTP\/1\.[01]$/.test(parts[2]!)) {
        refuse(client, 400, 'Bad Request');
        return;
      }
      if (parts[0] !== 'CONNECT') {
        refuse(client, 405, 'Method Not Allowed');
        return;
      }
      const target = normalizeTarget(parts[1]!);
      if (target === undefined) {
        refuse(client, 400, 'Bad Request');
        return;
      }
      if (!allow.has(target)) {
        refuse(client, 403, 'Forbidden', target);
        return;
      }
      if (stats.active >= maxTunnels) {
        refuse(client, 503, 'Service Unavailable', target);
        return;
      }
      open(client, target, head.subarray(end + 4));
    };
    client.on('data', onData);
  };

  const open = (client: Socket, target: string, early: Buffer) => {
    const sep = target.lastIndexOf(':');
    const host = target.slice(0, sep).replace(/^\[|\]$/g, '');
    const port = Number(target.slice(sep + 1));
    const started = Date.now();
    const upstream = dial(host, port);
    sockets.add(upstream);
    let connected = false;
    let up = 0;
    let down = 0;
    const timer = setTimeout(() => {
      if (!connected) {
        upstream.destroy();
        refuse(client, 504, 'Gateway Timeout', target);
      }
    }, handshakeMs);
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      stats.tunnelsOpened++;
      stats.active++;
      log?.info({ target }, 'egress tunnel opened');
      client.setTimeout(idleMs, () => client.destroy());
      upstream.setTimeout(idleMs, () => upstream.destroy());
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (early.length > 0) {
        up += early.length;
        stats.bytesUp += early.length;
        upstream.write(early);
      }
      client.on('data', (c: Buffer) => {
        up += c.length;
        stats.bytesUp += c.length;
      });
      upstream.on('data', (c: Buffer) => {
        down += c.length;
        stats.bytesDown += c.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(upstream);
      if (connected) {
        stats.active--;
        log?.info(
          { target, bytesUp: up, bytesDown: down, ms: Date.now() - started },
          'egress tunnel closed',
        );
      }
    };
    upstream.on('error', () => {
      if (!connected) {
        clearTimeout(timer);
        closed = true;
        sockets.delete(upstream);
        refuse(client, 502, 'Bad Gateway', target);
        return;
      }
      done();
    });
    upstream.on('close', done);
    client.on('close', () => {
      if (connected) done();
      else upstream.destroy();
    });
  };

  const server: Server = createServer(onClient);
  if ('socketPath' in opts.listen) rmSync(opts.listen.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('socketPath' in opts.listen) server.listen(opts.listen.socketPath, () => resolve());
    else server.listen(opts.listen.port, opts.listen.host ?? '127.0.0.1', () => resolve());
  });
  const bound = server.address();
  const address =
    'socketPath' in opts.listen
      ? { socketPath: opts.listen.socketPath }
      : { port: typeof bound === 'object' && bound ? bound.port : opts.listen.port };
  return {
    address,
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
