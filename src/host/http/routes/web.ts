/**
 * The web app (web/, built by Vite into dist/web): static files at `/`, and `index.html` for
 * each of the app's own paths, so a shared link such as `/verify` opens the right page. Public:
 * the files hold no data; everything the app shows comes from the API, checked in the browser.
 *
 * Its pages get their own Content-Security-Policy, as strict as a page that runs can be: scripts,
 * styles, images and fetches from this origin only, no inline script or style element, no
 * framing, no plugin, forms post nowhere, and no string into an HTML or script sink (Trusted
 * Types with no policy). The API keeps its `default-src 'none'` (app.ts).
 * Without a build (no dist/web/index.html) nothing is registered and the API runs alone.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** The app's client-side routes (web/src/main.tsx lists the same). None may be an API path: GET /wallets is the API's, so the page is /wallet. */
export const WEB_PAGES = [
  '/signin',
  '/keys',
  '/account',
  '/report',
  '/verify',
  '/wallet',
  '/log',
  '/operator',
  '/trust',
] as const;

export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  // No string reaches an HTML or script sink (innerHTML, document.write, a script's src, eval):
  // the app renders text through Preact only, so a sink reached with data throws.
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

/** dist/web at the repository root, from src/host/http/routes (tsx) or dist/host/http/routes. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../../dist/web', import.meta.url));

export function webAppBuilt(root: string): boolean {
  return existsSync(join(root, 'index.html'));
}

export function webRoutes(root: string): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', WEB_CSP);
      return payload;
    });
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      index: ['index.html'],
      // One route per built file, found at start, rather than a `/*` wildcard: the wildcard
      // would also catch what the router must refuse itself (a path parameter over its limit,
      // an unknown API path), and answer it as a missing file.
      wildcard: false,
      // Hashed asset names never change content; index.html is revalidated on every load.
      cacheControl: false,
      // @fastify/static 10 passes the reply (typed as the raw response).
      setHeaders(reply, path) {
        (reply as unknown as { header(k: string, v: string): void }).header(
          'cache-control',
          path.includes(join(root, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
    for (const page of WEB_PAGES)
      app.get(page, { schema: { hide: true } }, (_request, reply) =>
        reply.header('cache-control', 'no-cache').sendFile('index.html'),
      );
  };
}
