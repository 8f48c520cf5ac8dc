/**
 * Cross-site request refusal for cookie mode (AUTH_COOKIES). A browser attaches the cookies to
 * a request another site makes, and a body-less POST (/auth/refresh, /auth/logout-all, the
 * operator routes) needs no preflight, so SameSite alone is the only barrier; this check is the
 * second one. A state-changing request (not GET/HEAD/OPTIONS) that carries one of Cloister's
 * cookies is refused with 403 CSRF_REFUSED when the browser says it comes from elsewhere:
 * `Sec-Fetch-Site` other than same-origin/none, or an `Origin` that is neither this host nor in
 * ALLOWED_ORIGINS. A request with neither header does not come from a current browser (every
 * one sends Origin on a cross-origin POST) and passes; so do requests without the cookies
 * (bearer tokens), which a browser never adds on its own.
 */
import type { FastifyRequest } from 'fastify';
import { HostError } from '../errors.js';
import { ACCESS_COOKIE, REFRESH_COOKIE, readCookie } from '../auth/guard.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createCsrfCheck(allowedOrigins: readonly string[]) {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  function originAllowed(request: FastifyRequest, origin: string): boolean {
    if (allowed.has(origin.toLowerCase())) return true;
    // Same origin: the page's host and port are the ones the browser sent this request to. The
    // port counts: cookies are sent to every port of a host name and SameSite ignores ports, so
    // a page on another port (another account's server on this machine) is stopped only here.
    // A default port is left out of both (a browser sends `Host: app.example` from
    // https://app.example, also through a TLS proxy).
    const host = request.headers.host;
    if (!URL.canParse(origin) || host === undefined || !URL.canParse(`http://${host}`))
      return false;
    const target = new URL(`http://${host}`);
    const port = target.port === '443' ? '' : target.port;
    return new URL(origin).host === (port === '' ? target.hostname : `${target.hostname}:${port}`);
  }
  return async function csrfCheck(request: FastifyRequest): Promise<void> {
    if (SAFE.has(request.method)) return;
    if (
      readCookie(request, ACCESS_COOKIE) === undefined &&
      readCookie(request, REFRESH_COOKIE) === undefined
    )
      return;
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!originAllowed(request, origin)) throw new HostError('CSRF_REFUSED');
      return;
    }
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      throw new HostError('CSRF_REFUSED');
  };
}
