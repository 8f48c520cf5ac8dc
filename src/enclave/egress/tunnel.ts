/**
 * The tunnel egress transport, for TEEs with no network of their own: every connection is an
 * HTTP CONNECT tunnel through the host's proxy (a Unix socket, or TCP), and TLS runs *inside the
 * enclave* over that tunnel (`tls.connect({ socket, servername, ca })`), checking the exchange's
 * certificate and host name here. The host sees `CONNECT host:port` and ciphertext, so it can
 * neither read the signed requests (nor the API key header) nor forge the exchange's answers.
 * Plain http:// is refused: through a tunnel it would hand the host both.
 *
 * Tunnels are pooled per target by a keep-alive agent, so a pager's many pages reuse one
 * handshake.
 */
import { Agent, type AgentOptions, type ClientRequestArgs } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { HttpRequest, HttpResponse, HttpTransport } from '../exchanges/types.js';
import { trustedRoots } from './direct.js';
import { EgressError, toEgressError } from './errors.js';
import { DEFAULT_LIMITS, hostPort, parseTarget, send, type ExchangeLimits } from './http1.js';

export type ProxyAddress = { socketPath: string } | { host: string; port: number };

export interface TunnelTransportOptions {
  proxy: ProxyAddress;
  /** Extra trusted CA certificate(s), PEM, added to the system roots. */
  caPem?: string | readonly string[];
  timeoutMs?: number;
  /** CONNECT plus TLS handshake. */
  connectTimeoutMs?: number;
  maxResponseBytes?: number;
  idleTimeoutMs?: number;
}

const MAX_PROXY_HEAD = 8192;

/** Opens `CONNECT host:port` through the proxy and resolves with the raw tunnel socket. */
export function openTunnel(
  proxy: ProxyAddress,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const sock =
      'socketPath' in proxy ? netConnect(proxy.socketPath) : netConnect(proxy.port, proxy.host);
    let head = Buffer.alloc(0);
    const fail = (err: EgressError) => {
      cleanup();
      sock.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new EgressError('EGRESS_TIMEOUT', 'connect')), timeoutMs);
    const onError = (err: Error) => fail(toEgressError(err));
    const onClose = () => fail(new EgressError('EGRESS_PROXY', 'closed'));
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_PROXY_HEAD) fail(new EgressError('EGRESS_PROXY', 'head'));
        return;
      }
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString('latin1'));
      if (!status || status[1] !== '200') {
        fail(new EgressError('EGRESS_PROXY', status?.[1] ?? 'malformed'));
        return;
      }
      cleanup();
      // Nothing may precede the server's TLS bytes, which only follow our ClientHello.
      const rest = head.subarray(end + 4);
      if (rest.length > 0) {
        sock.destroy();
        reject(new EgressError('EGRESS_PROXY', 'early-data'));
        return;
      }
      resolve(sock);
    };
    function cleanup() {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('close', onClose);
    }
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
    // A host name goes to the proxy as is (it resolves it); IPv6 literals in brackets (RFC 9110 §9.3.6).
    const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    sock.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** Runs TLS over an open tunnel; resolves once the certificate chain and host name are verified. */
export function startTls(
  socket: Socket,
  host: string,
  ca: string[],
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const tls = tlsConnect({
      socket,
      host,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ca,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new EgressError('EGRESS_TIMEOUT', 'tls'));
    }, timeoutMs);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.off('error', onError);
      resolve(tls);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      tls.destroy();
      reject(toEgressError(err));
    };
    tls.once('error', onError);
  });
}

/** A keep-alive agent whose connections are TLS sessions inside CONNECT tunnels. */
class TunnelAgent extends Agent {
  constructor(
    private readonly proxy: ProxyAddress,
    private readonly ca: string[],
    private readonly connectTimeoutMs: number,
    opts: AgentOptions,
  ) {
    super(opts);
  }

  // node's Agent accepts a socket through the callback (http.Agent#createConnection).
  override createConnection(
    options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.host ?? '';
    const port = Number(options.port);
    openTunnel(this.proxy, host, port, this.connectTimeoutMs)
      .then((raw) => startTls(raw, host, this.ca, this.connectTimeoutMs))
      .then(
        (tls) => callback?.(null, tls),
        (err: unknown) => callback?.(toEgressError(err), undefined as unknown as Duplex),
      );
    return undefined;
  }
}

export function createTunnelTransport(
  opts: TunnelTransportOptions,
): HttpTransport & { close(): void } {
  const limits: ExchangeLimits = {
    timeoutMs: opts.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_LIMITS.maxResponseBytes,
  };
  const agent = new TunnelAgent(
    opts.proxy,
    trustedRoots(opts.caPem),
    opts.connectTimeoutMs ?? 10_000,
    {
      keepAlive: true,
      maxSockets: 8,
      timeout: opts.idleTimeoutMs ?? 15_000,
    },
  );
  return {
    request(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
      let url: URL;
      try {
        url = parseTarget(req.url);
      } catch (err) {
        return Promise.reject(err);
      }
      if (url.protocol !== 'https:')
        return Promise.reject(new EgressError('EGRESS_REFUSED', 'plaintext'));
      // The port is explicit so the agent's pool key and the CONNECT target agree.
      hostPort(url);
      return send(req, url, agent, limits, signal, true);
    },
    close() {
      agent.destroy();
    },
  };
}
