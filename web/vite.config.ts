// The web app's build (npm run build:web): Preact + uPlot, bundled into dist/web. The SDK in
// src/client is imported as source and does all the cryptography in the browser.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // No inline script or style anywhere: the page's CSP (src/host/http/routes/web.ts) forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'es2022',
    // The SDK (attestation verifiers, HPKE, zod schemas) is most of it; one file, loaded once.
    chunkSizeWarningLimit: 1500,
  },
});
