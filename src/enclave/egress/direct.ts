/**
 * The direct egress transport (simulated platform, or any TEE with its own network): http:// and
 * https:// straight from this process over keep-alive agents. HTTPS verifies the server
 * certificate and host name against the system roots plus an optional extra CA (tests pass the
 * fake exchange's throwaway CA); TLS 1.2 at least.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { HttpRequest, HttpResponse, HttpTransport } from '../exchanges/types.js';
import { DEFAULT_LIMITS, parseTarget, send, type ExchangeLimits } from './http1.js';

export interface DirectTransportOptions {
  /** Extra trusted CA certificate(s), PEM, added to the system roots. */
  caPem?: string | readonly string[];
  timeoutMs?: number;
  maxResponseBytes?: number;
  /** Idle keep-alive sockets are closed after this long. */
  idleTimeoutMs?: number;
}

export function trustedRoots(caPem: string | readonly string[] | undefined): string[] {
  const extra = caPem === undefined ? [] : typeof caPem === 'string' ? [caPem] : [...caPem];
  return [...rootCertificates, ...extra];
}

export function createDirectTransport(
  opts: DirectTransportOptions = {},
): HttpTransport & { close(): void } {
  const limits: ExchangeLimits = {
    timeoutMs: opts.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_LIMITS.maxResponseBytes,
  };
  const idle = opts.idleTimeoutMs ?? 15_000;
  const http = new HttpAgent({ keepAlive: true, maxSockets: 8, timeout: idle });
  const https = new HttpsAgent({
    keepAlive: true,
    maxSockets: 8,
    timeout: idle,
    ca: trustedRoots(opts.caPem),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
  });
  return {
    request(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
      let url: URL;
      try {
        url = parseTarget(req.url);
      } catch (err) {
        return Promise.reject(err);
      }
      return send(req, url, url.protocol === 'https:' ? https : http, limits, signal, false);
    },
    close() {
      http.destroy();
      https.destroy();
    },
  };
}
