/**
 * CLI of the fake exchange: `npm run fake-exchange -- [--port N] [--seed N] [--fills N]
 * [--https] [--ca-out FILE]`. Prints the URL and the test accounts, then serves until killed.
 */
import { parseArgs } from 'node:util';
import { startFakeExchange } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '42' },
    fills: { type: 'string', default: '10000' },
    https: { type: 'boolean', default: false },
    'ca-out': { type: 'string' },
  },
  strict: true,
});

const int = (name: string, v: string): number => {
  if (!/^\d+$/.test(v)) {
    console.error(`--${name} must be a non-negative integer`);
    process.exit(2);
  }
  return Number(v);
};
const caOut = values['ca-out'];
if (caOut !== undefined && !values.https) {
  console.error('--ca-out needs --https');
  process.exit(2);
}
const fx = await startFakeExchange({
  host: values.host,
  port: int('port', values.port),
  seed: int('seed', values.seed),
  fills: Math.max(1, int('fills', values.fills)),
  ...(values.https ? { https: caOut !== undefined ? { caOut } : true } : {}),
});
const say = (line: string) => process.stdout.write(`${line}\n`);
say(`fake exchange listening on ${fx.url}`);
for (const a of fx.accounts.values()) {
  say(
    `  account ${a.apiKey}${a.revoked ? ' (revoked)' : ''}: ${a.fillCount} fills, seed ${a.seed}`,
  );
}
if (caOut !== undefined) say(`  CA certificate written to ${caOut}`);
const stop = () => void fx.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
