// ESLint flat config: typescript-eslint's recommended rules plus the trust-zone import
// boundaries (scripts/check-zones.mjs proves the same on the bundles).
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'crypto',
  'net',
  'http',
  'https',
  'child_process',
  'os',
  'buffer',
];
const enclaveForbidden = [
  '**/host/**',
  '**/client/**',
  '**/cli/**',
  'fastify',
  '@fastify/*',
  'pg',
  '@electric-sql/*',
  'pino',
  'ioredis',
  'undici',
  'node:dgram',
  'node:child_process',
];
const egressOnly = [
  'node:http',
  'node:https',
  'node:tls',
  'node:net',
  'http',
  'https',
  'tls',
  'net',
];
// The enclave reads and writes files only in enclave/platform/ (devices, sealed keys, its
// socket file, the egress CA bundle), so its contact with the untrusted disk is in one folder.
const fsOutsidePlatform = ['node:fs', 'node:fs/*', 'fs', 'fs/*'];
const zone = (files, patterns) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: patterns.map((group) => ({
          group: [group].flat(),
          message: 'crosses a trust-zone boundary (ARCHITECTURE.md)',
        })),
      },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      '.tmp/**',
      'coverage/**',
      'reports/**',
      '.stryker-tmp/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  // The host captures the enclave's stdout and stderr and logs them: nothing in the enclave may
  // print but main.ts's fixed status lines (an exception's text can quote a plaintext). Nor may
  // it read its environment but main.ts, which parses it once (one config mechanism).
  {
    files: ['src/enclave/**'],
    ignores: ['src/enclave/main.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'console', message: 'the host logs enclave output' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'stdout', message: 'the host logs enclave output' },
        { object: 'process', property: 'stderr', message: 'the host logs enclave output' },
        {
          object: 'process',
          property: 'env',
          message: 'settings come from the one parsed config (enclave/config.ts, via main.ts)',
        },
      ],
    },
  },
  zone(
    ['src/protocol/**'],
    ['**/enclave/**', '**/host/**', '**/client/**', '**/cli/**', ...nodeBuiltins],
  ),
  zone(['src/client/**'], ['**/enclave/**', '**/host/**', '**/cli/**', ...nodeBuiltins]),
  // The web app is a browser client of the SDK (scripts/check-zones.mjs checks the same).
  zone(['web/src/**'], ['**/enclave/**', '**/host/**', '**/cli/**', ...nodeBuiltins]),
  zone(['src/enclave/**'], [...enclaveForbidden, ...egressOnly, ...fsOutsidePlatform]),
  zone(['src/enclave/platform/**'], [...enclaveForbidden, ...egressOnly]),
  // Sockets out of the enclave are opened only by the egress transport (issue 4); node:net also
  // serves the enclave's own RPC socket and the Nitro NSM helper socket.
  zone(['src/enclave/egress/**'], [...enclaveForbidden, ...fsOutsidePlatform]),
  zone(
    ['src/enclave/server.ts'],
    [...enclaveForbidden, ...egressOnly.filter((m) => m !== 'node:net'), ...fsOutsidePlatform],
  ),
  zone(
    ['src/enclave/platform/nsm.ts'],
    [...enclaveForbidden, ...egressOnly.filter((m) => m !== 'node:net')],
  ),
  // A cluster member verifies a joining enclave's evidence itself (docs/protocol/cluster.md):
  // this one file may use the SDK's pure evidence checks (scripts/check-zones.mjs agrees).
  zone(
    ['src/enclave/cluster/peer-evidence.ts'],
    [
      ...enclaveForbidden.filter((p) => p !== '**/client/**'),
      ...egressOnly,
      // Anything of the client's but its attestation/ folder.
      // (scripts/check-zones.mjs enforces the same for folders added later).
      '**/client/*.js',
      '**/client/aggregates/**',
      '**/client/auth/**',
      '**/client/log/**',
      '**/client/verify/**',
    ],
  ),
  // The host's own link to the enclave lives in host/enclave-client/, so '**/enclave/**' here can
  // only mean the trusted zone: the host never imports enclave code.
  zone(['src/host/**'], ['**/enclave/**', '**/client/**', '**/cli/**']),
  zone(['src/cli/**'], ['**/enclave/**', '**/host/**']),
  {
    files: ['scripts/**', 'bench/**', 'test/**', 'examples/**', 'src/cli/**', 'devtools/**'],
    rules: { 'no-console': 'off' },
  },
);
