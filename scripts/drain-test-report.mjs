// Preloaded into every test process by scripts/run-tests.mjs. With --test-force-exit, node's
// test runner calls process.exit() once the tests are done, and in a test file's process that
// can drop its last results, still buffered on their way to the parent: the report then shows
// fewer tests than ran, and may lose a failure's name and message (nodejs/node#64833). Here
// only the runner's own exit waits until stdout has drained (at most 2 s); any other
// process.exit is left as it is.
const exit = process.exit.bind(process);
let deferred = false;

process.exit = (code) => {
  if (deferred || !new Error().stack?.includes('internal/test_runner')) return exit(code);
  deferred = true;
  if (code !== undefined) process.exitCode = code;
  const until = Date.now() + 2000;
  const tryExit = () => {
    if (process.stdout.writableLength > 0 && Date.now() < until) return void setTimeout(tryExit, 5);
    process.stdout.write('', () => setTimeout(() => exit(), 20));
  };
  setImmediate(tryExit);
};
