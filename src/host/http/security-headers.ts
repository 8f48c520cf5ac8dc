/**
 * The security headers every response carries (helmet's, for the options below). @fastify/helmet
 * builds a new helmet middleware on every request (parsing the CSP directives each time, ~3 % of
 * the host's CPU per login, bench/README.md "Issue 17: logins, stop 26"); the headers depend on
 * the options only, so they are computed once here, by helmet itself on a throwaway instance,
 * and set on every request by one hook.
 */
import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify from 'fastify';

/** A JSON API: nothing may be loaded, framed or executed from its responses. */
export const HELMET_OPTIONS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
    },
  },
  hsts: { maxAge: 31_536_000, includeSubDomains: true, preload: false },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
};

let computed: Promise<Readonly<Record<string, string>>> | undefined;

/** The headers helmet adds to a response under HELMET_OPTIONS; computed once per process. */
export function securityHeaders(): Promise<Readonly<Record<string, string>>> {
  computed ??= helmetHeaders(HELMET_OPTIONS);
  computed.catch(() => (computed = undefined));
  return computed;
}

/** The headers helmet adds to a response under `options` (those a bare Fastify does not send). */
async function helmetHeaders(
  options: FastifyHelmetOptions,
): Promise<Readonly<Record<string, string>>> {
  const answer = async (withHelmet: boolean) => {
    const app = Fastify({ logger: false });
    if (withHelmet) await app.register(helmet, options);
    app.get('/', async () => '');
    try {
      return (await app.inject({ method: 'GET', url: '/' })).headers;
    } finally {
      await app.close();
    }
  };
  const [bare, helmeted] = await Promise.all([answer(false), answer(true)]);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(helmeted)) {
    if (name === 'date' || name in bare) continue;
    if (typeof value !== 'string') throw new Error(`helmet header ${name}: not one value`);
    headers[name] = value;
  }
  return Object.freeze(headers);
}
