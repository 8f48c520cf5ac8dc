// StrykerJS mutation run, on demand only (`npm run test:mutation`; not part of `npm test` or CI).
// Scope: the code whose checks are security rules (docs/mutation-testing.md). Only fast,
// in-process test files run against the mutants: service tests spawn the built enclave bundle
// (dist/enclave), which never contains a mutant, and take minutes each.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: [
    'src/protocol/**/*.ts',
    'src/enclave/methods/**/*.ts',
    'src/enclave/dispatcher.ts',
    'src/host/auth/**/*.ts',
  ],
  tap: {
    testFiles: [
      'test/protocol/*.test.ts',
      'test/vectors/*.test.ts',
      'test/enclave/dispatcher.test.ts',
      'test/enclave/keyring.test.ts',
      'test/enclave/submit-credential.test.ts',
      'test/enclave/job-table.test.ts',
      'test/auth/vectors.test.ts',
      'test/auth/queue.test.ts',
      'test/aggregates/signed.test.ts',
      'test/aggregates/engine.test.ts',
      'test/client/verify-attestation.test.ts',
      'test/attestation/simulated-evidence.test.ts',
      'test/attestation/verify-attestation-real.test.ts',
      'test/client/log-entry-audit.test.ts',
      'test/mutation-killers/*.test.ts',
    ],
    // node:test in-process (no --test: it would fork a child the coverage hook cannot see).
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap', '-r', '{{hookFile}}', '{{testFile}}'],
  },
  coverageAnalysis: 'perTest',
  concurrency: 1,
  timeoutMS: 60000,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: [
    '/dist',
    '/reports',
    '/data',
    '/.cloister-data',
    '/coverage',
    '/bench',
    '/examples',
  ],
};
