// StrykerJS mutation run, on demand only (`npm run test:mutation`; not part of `npm test` or CI).
// Scope: the code whose checks are security rules (docs/mutation-testing.md). Only fast,
// in-process test files run against the mutants: service tests spawn the built enclave bundle
// (dist/enclave), which never contains a mutant, and take minutes each.
//
// MUTATION_SCOPE=<name> runs one folder against only the test files that import it, so that a
// mutant in module-level code (a "static" mutant, which runs every test file) does not run the
// whole list: on 2 shared cores the full list costs minutes per static mutant.
const SCOPES = {
  'host-auth': {
    mutate: ['src/host/auth/**/*.ts'],
    testFiles: [
      'test/mutation-killers/host-auth.test.ts',
      'test/mutation-killers/auth-service.test.ts',
      'test/mutation-killers/operator-cli.test.ts',
      'test/mutation-killers/host-auth-config.test.ts',
      'test/mutation-killers/host-signin-otp.test.ts',
      'test/mutation-killers/host-signin-methods.test.ts',
      'test/mutation-killers/host-signin-factors.test.ts',
    ],
  },
  'protocol-envelope': {
    mutate: ['src/protocol/envelope/**/*.ts'],
    testFiles: [
      'test/protocol/envelope-v1.property.test.ts',
      'test/vectors/hpke.test.ts',
      'test/mutation-killers/protocol-envelope.test.ts',
    ],
  },
  'protocol-log': {
    mutate: ['src/protocol/log/**/*.ts'],
    testFiles: [
      'test/mutation-killers/protocol-log-survivors.test.ts',
      'test/mutation-killers/protocol-log.test.ts',
      'test/protocol/log-checkpoint.property.test.ts',
      'test/protocol/log-merkle.property.test.ts',
      'test/vectors/merkle.test.ts',
      'test/vectors/signed-note.test.ts',
      'test/client/log-entry-audit.test.ts',
      'test/aggregates/signed.test.ts',
      'test/mutation-killers/protocol-log-note.test.ts',
    ],
  },
  'protocol-attestation': {
    mutate: ['src/protocol/attestation/**/*.ts'],
    testFiles: [
      'test/attestation/simulated-evidence.test.ts',
      'test/attestation/verify-attestation-real.test.ts',
      'test/client/verify-attestation.test.ts',
      'test/mutation-killers/protocol-attestation.test.ts',
    ],
  },
  'protocol-core': {
    mutate: ['src/protocol/*.ts'],
    testFiles: [
      'test/protocol/encoding.property.test.ts',
      'test/protocol/frame.property.test.ts',
      'test/vectors/jcs.test.ts',
      'test/vectors/thumbprint.test.ts',
      'test/auth/siwe.test.ts',
      'test/auth/vectors.test.ts',
      'test/aggregates/signed.test.ts',
      'test/aggregates/bindings.test.ts',
      'test/aggregates/engine.test.ts',
      'test/host/enclave-env.test.ts',
      'test/mutation-killers/protocol-core.test.ts',
    ],
  },
  'protocol-cluster': {
    mutate: ['src/protocol/cluster/**/*.ts'],
    testFiles: ['test/enclave/cluster.test.ts', 'test/mutation-killers/protocol-cluster.test.ts'],
  },
  'protocol-rpc': {
    mutate: ['src/protocol/rpc/**/*.ts'],
    testFiles: [
      'test/mutation-killers/protocol-rpc.test.ts',
      'test/protocol/frame.property.test.ts',
      'test/enclave/job-table.test.ts',
      'test/auth/queue.test.ts',
      'test/wallet/state-mac.test.ts',
      'test/host/rpc-client-results.test.ts',
      'test/enclave/dispatcher.test.ts',
      'test/mutation-killers/enclave-rules.test.ts',
      'test/mutation-killers/enclave-survivors.test.ts',
      'test/mutation-killers/enclave-auth.test.ts',
    ],
  },
  'enclave-dispatcher': {
    mutate: ['src/enclave/dispatcher.ts'],
    testFiles: [
      'test/enclave/refresh-overlap.test.ts',
      'test/mutation-killers/protocol-rpc.test.ts',
      'test/enclave/dispatcher.test.ts',
      'test/host/rpc-client-results.test.ts',
      'test/enclave/cluster.test.ts',
      'test/mutation-killers/enclave-rules.test.ts',
      'test/mutation-killers/enclave-survivors.test.ts',
      'test/mutation-killers/enclave-auth.test.ts',
    ],
  },
  // test/cli/attest.test.ts also reaches attestation.ts and keyring.ts but takes half a minute.
  // The killer files come first: a mutant in module-level code runs every file until one fails.
  'enclave-methods': {
    mutate: ['src/enclave/methods/**/*.ts'],
    testFiles: [
      'test/mutation-killers/enclave-methods.test.ts',
      'test/mutation-killers/enclave-wallet.test.ts',
      'test/mutation-killers/enclave-auth-methods.test.ts',
      'test/mutation-killers/enclave-auth-methods-2.test.ts',
      'test/mutation-killers/enclave-aggregates.test.ts',
      'test/mutation-killers/enclave-cluster.test.ts',
      'test/mutation-killers/enclave-rules.test.ts',
      'test/mutation-killers/enclave-survivors.test.ts',
      'test/mutation-killers/enclave-auth.test.ts',
      'test/mutation-killers/host-auth.test.ts',
      'test/enclave/dispatcher.test.ts',
      'test/enclave/open-envelope.test.ts',
      'test/enclave/submit-credential.test.ts',
      'test/enclave/keyring-lifecycle.test.ts',
      'test/enclave/replay-across-restart.test.ts',
      'test/enclave/replay-release-replay.test.ts',
      'test/enclave/sealed-compat.test.ts',
      'test/enclave/cluster.test.ts',
      'test/enclave/platforms/selection.test.ts',
      'test/client/fresh-envelope.test.ts',
      'test/client/verify-attestation.test.ts',
      'test/cli/cluster-genesis.test.ts',
      'test/auth/recovery-v2-clock.test.ts',
      'test/host/rpc-client-results.test.ts',
      'test/wallet/sign-concurrency.test.ts',
      'test/enclave/refresh-overlap.test.ts',
    ],
  },
  'protocol-wallet': {
    mutate: ['src/protocol/wallet/**/*.ts'],
    testFiles: [
      'test/wallet/shamir.test.ts',
      'test/wallet/hd-derivation.test.ts',
      'test/wallet/sealed-share.test.ts',
      'test/wallet/sign-ethereum.test.ts',
      'test/wallet/sign-solana.test.ts',
      'test/wallet/policy.test.ts',
      'test/wallet/custody.test.ts',
      'test/wallet/state-mac.test.ts',
      'test/mutation-killers/protocol-wallet.test.ts',
    ],
  },
};
const scope = process.env.MUTATION_SCOPE ? SCOPES[process.env.MUTATION_SCOPE] : undefined;
if (process.env.MUTATION_SCOPE && !scope)
  throw new Error(`MUTATION_SCOPE: one of ${Object.keys(SCOPES).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: scope?.mutate ?? [
    'src/protocol/**/*.ts',
    'src/enclave/methods/**/*.ts',
    'src/enclave/dispatcher.ts',
    'src/host/auth/**/*.ts',
  ],
  tap: {
    testFiles: scope?.testFiles ?? [
      'test/protocol/*.test.ts',
      'test/vectors/*.test.ts',
      'test/enclave/dispatcher.test.ts',
      'test/enclave/keyring.test.ts',
      'test/enclave/submit-credential.test.ts',
      'test/enclave/job-table.test.ts',
      'test/enclave/cluster.test.ts',
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
  incrementalFile: `reports/mutation/stryker-incremental${scope ? `-${process.env.MUTATION_SCOPE}` : ''}.json`,
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: `reports/mutation/${process.env.MUTATION_SCOPE ?? 'index'}.html` },
  jsonReporter: { fileName: `reports/mutation/${process.env.MUTATION_SCOPE ?? 'mutation'}.json` },
  tempDirName: `.stryker-tmp${scope ? `-${process.env.MUTATION_SCOPE}` : ''}`,
  cleanTempDir: 'always',
  ignorePatterns: [
    '/dist',
    '/.stryker-tmp*',
    '/reports',
    '/data',
    '/.cloister-data',
    '/coverage',
    '/bench',
    '/examples',
  ],
};
