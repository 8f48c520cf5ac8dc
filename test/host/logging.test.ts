/**
 * LOG_FORMAT: JSON lines for collectors, pino-pretty for a person; the redaction list applies to
 * both, since pino redacts before the line reaches either stream.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  OneLinePerRequest,
  REDACTED_FIELDS,
  createLogger,
  redactForLog,
} from '../../src/host/logging.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

const SECRET = 'planted-secret-7c1e';

function logOnce(format: 'json' | 'pretty' | 'auto') {
  const out = sink();
  const logger = createLogger('info', out.stream as never, format);
  logger.info(
    {
      req: { headers: { authorization: `Bearer ${SECRET}` } },
      creds: { apiSecret: SECRET, password: SECRET },
      body: SECRET,
      label: 'visible-label',
    },
    'request seen',
  );
  logger.flush?.();
  return out.text();
}

describe('host logs', () => {
  it('json: one object per line, secrets redacted', () => {
    const text = logOnce('json');
    const line = JSON.parse(text.trim()) as Record<string, unknown>;
    assert.equal(line.msg, 'request seen');
    assert.equal(line.label, 'visible-label');
    assert.ok(!text.includes(SECRET), text);
  });

  it('pretty: human-readable (no JSON object), a date, the same redaction', () => {
    const text = logOnce('pretty');
    assert.throws(() => JSON.parse(text.trim()));
    assert.match(text, /INFO/);
    assert.match(text, /request seen/);
    assert.match(text, /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    assert.match(text, /visible-label/);
    assert.ok(!text.includes(SECRET), text);
    assert.match(text, /\[redacted\]/);
  });

  it('auto with a destination other than stdout stays JSON', () => {
    assert.doesNotThrow(() => JSON.parse(logOnce('auto').trim()));
  });
});

describe('host log redaction (REDACTED_FIELDS)', () => {
  function lines(run: (logger: ReturnType<typeof createLogger>) => void): string {
    const out = sink();
    const logger = createLogger('info', out.stream as never, 'json');
    run(logger);
    logger.flush?.();
    return out.text();
  }
  /** The `msg` of each JSON line of `text`. */
  const messagesOf = (text: string): unknown[] =>
    text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: unknown }).msg);

  for (const field of REDACTED_FIELDS) {
    it(`"${field}" is censored at the top level, nested, deep, in arrays, bindings and %o/%j`, () => {
      const text = lines((logger) => {
        logger.info({ [field]: SECRET, label: 'visible-label' }, 'top');
        logger.info({ outer: { [field]: SECRET } }, 'nested');
        logger.info({ a: { b: { c: [{ [field]: { inner: SECRET } }] } } }, 'deep');
        logger.info({ list: [{ [field]: SECRET }] }, 'array');
        logger
          .child({ [field]: SECRET, ctx: { [field]: SECRET } })
          .child({ nested: 'visible-label' })
          .info('child');
        logger.info('interpolated %o %j', { [field]: SECRET }, { x: { [field]: SECRET } });
        logger.info({ k: 1 }, 'interpolated after an object %j', { [field]: SECRET });
      });
      const out = text.trim().split('\n');
      assert.equal(out.length, 7, text);
      assert.ok(!text.includes(SECRET), text);
      assert.match(text, /\[redacted\]/);
      assert.match(text, /visible-label/); // positive control: other fields are kept
      assert.match(out[4]!, /"nested":"visible-label"/); // a grandchild keeps its bindings
    });
  }

  it('the serialized request, reply and error carry none of their headers or bodies', () => {
    const text = lines((logger) => {
      logger.info(
        {
          req: { method: 'POST', headers: { authorization: SECRET, cookie: SECRET }, body: SECRET },
          res: { statusCode: 200, headers: { 'set-cookie': SECRET } },
          err: Object.assign(new Error(SECRET), { code: 'X', config: { secret: SECRET } }),
        },
        'request',
      );
    });
    assert.ok(!text.includes(SECRET), text);
    const line = JSON.parse(text.trim()) as {
      req: { method: string };
      res: { statusCode: number };
    };
    assert.equal(line.req.method, 'POST');
    assert.equal(line.res.statusCode, 200);
  });

  it("never changes the caller's object, and leaves other objects uncopied", () => {
    const logged = { outer: { password: SECRET, keep: 1 }, other: { keep: 2 } };
    const redacted = redactForLog(logged) as typeof logged;
    assert.equal(logged.outer.password, SECRET);
    assert.equal(redacted.outer.password, '[redacted]');
    assert.equal(redacted.other, logged.other);
    const clean = { a: { b: [1, { c: 2 }] } };
    assert.equal(redactForLog(clean), clean);
  });

  it("a query string in a line's text is censored (message, %s, an error's message), the rest kept", () => {
    const text = lines((logger) => {
      logger.warn(`in "/x?token=${SECRET}" (GET)?`);
      logger.warn({ k: 1 }, 'route %s', `/x?code=${SECRET}&state=1`);
      logger.warn({ err: new Error(`in "/y?token=${SECRET}"`) });
      logger.warn(new Error(`in /z?${SECRET}`));
      logger.info('is it? yes (GET)?');
    });
    assert.ok(!text.includes(SECRET), text);
    assert.deepEqual(messagesOf(text), [
      'in "/x?[redacted]" (GET)?',
      'route /x?[redacted]',
      'in "/y?[redacted]"',
      'in /z?[redacted]',
      'is it? yes (GET)?',
    ]);
  });

  it('a query string is censored in what an object interpolated into the message becomes, in a %s argument that starts with it, and in the message pino takes from an error given with an undefined one; an object given as the message is walked', () => {
    const url = new URL(`https://idp.example/cb?code=${SECRET}&state=1`);
    const text = lines((logger) => {
      // A URL: the walk writes what its toJSON returns, the whole address.
      logger.warn('callback %s', url);
      logger.warn('callback %j', url);
      // URL.search: the query alone, censored argument by argument.
      logger.warn('callback %s%s', url.pathname, url.search);
      logger.warn(`?token=${SECRET}`);
      // pino takes the error's message when the one given is undefined.
      logger.warn(new Error(`in /x?token=${SECRET}`), undefined);
      logger.warn({ err: new Error(`in /y?token=${SECRET}`) }, undefined);
      // An object where the message goes: pino writes it as it is, or as JSON before the rest.
      logger.warn({ k: 1 }, { password: SECRET } as unknown as string);
      logger.warn({ k: 1 }, { password: SECRET } as unknown as string, 'x');
    });
    assert.ok(!text.includes(SECRET), text);
    assert.deepEqual(messagesOf(text), [
      'callback https://idp.example/cb?[redacted]',
      "callback 'https://idp.example/cb?[redacted]'",
      'callback /cb?[redacted]',
      '?[redacted]',
      'in /x?[redacted]',
      'in /y?[redacted]',
      { password: '[redacted]' },
      '{"password":"[redacted]"} ',
    ]);
  });

  it("an object interpolated with %s (or %d, %i, %f) is walked too: its own or its class's toString, valueOf or toPrimitive never reaches the line", () => {
    // pino writes `%s` as String(arg): the object's own toString (or its class's) ran on the
    // object as logged, which the walk never saw, and a nested field went out with it.
    class Credentials {
      readonly #apiKey: string;
      constructor(
        apiKey: string,
        readonly label: string,
      ) {
        this.#apiKey = apiKey;
      }
      toString() {
        return `credentials ${this.#apiKey}`;
      }
    }
    const own = { label: 'visible-label', toString: () => `own ${SECRET}` };
    const nested = {
      outer: { password: SECRET, label: 'visible-label' },
      toString() {
        return JSON.stringify(this);
      },
    };
    const primitive = { [Symbol.toPrimitive]: () => SECRET };
    const numeric = { valueOf: () => 424242, toString: () => '424242' }; // a one-time code
    const text = lines((logger) => {
      logger.info('class %s', new Credentials(SECRET, 'visible-label'));
      logger.info('own %s', own);
      logger.info('nested %s', nested);
      logger.info('primitive %s', primitive);
      logger.info({ k: 1 }, 'after a logged object %s', own);
      // pino's types want a number for %d and know no %i or %f; an object gets there all the same.
      const untyped = logger.info as (this: unknown, ...args: unknown[]) => void;
      untyped.call(logger, 'numbers %d %i %f', numeric, numeric, primitive);
      logger.info('json %j %o %O', own, nested, new Credentials(SECRET, 'x'));
    });
    assert.ok(!text.includes(SECRET), text);
    assert.ok(!text.includes('424242'), text);
    assert.deepEqual(messagesOf(text), [
      'class {"label":"visible-label"}',
      'own {"label":"visible-label"}',
      'nested {"outer":{"password":"[redacted]","label":"visible-label"}}',
      'primitive {}',
      'after a logged object {"label":"visible-label"}',
      'numbers NaN NaN NaN',
      'json {"label":"visible-label"} {"outer":{"password":"[redacted]","label":"visible-label"}} {"label":"x"}',
    ]);
  });

  it('an Error interpolated keeps its name and message (query strings censored), and a Symbol with %d does not throw', () => {
    // Walked as an object, an Error became "{}" (its name and message are not own enumerable
    // fields): `%s` of an Error lost everything an operator reads. A Symbol made `%d` throw.
    const untyped = (logger: ReturnType<typeof createLogger>) =>
      logger.info as (this: unknown, ...args: unknown[]) => void;
    const text = lines((logger) => {
      logger.info('failed: %s', new TypeError(`fetch /x?token=${SECRET} failed`));
      const err = Object.assign(new Error('denied'), { password: SECRET });
      logger.info('json: %j', err);
      untyped(logger).call(logger, 'count %d', Symbol('s'));
    });
    assert.ok(!text.includes(SECRET), text);
    assert.deepEqual(messagesOf(text), [
      'failed: TypeError: fetch /x?[redacted] failed',
      "json: 'Error: denied'",
      'count NaN',
    ]);
  });

  it('a query string is censored in strings inside what is interpolated: arrays, nested fields, String objects', () => {
    // The walk censored fields by name only: a URL inside an array or an object, or a String
    // object, went out with its query string.
    const text = lines((logger) => {
      logger.info('urls %s', [`/x?token=${SECRET}`, 'plain']);
      logger.info('urls %j', { seen: [{ at: `/y?code=${SECRET}` }] });
      logger.info('boxed %s', new String(`/z?state=${SECRET}`));
      logger.info('boxed %j', [new String(`/w?n=${SECRET}`)]);
    });
    assert.ok(!text.includes(SECRET), text);
    assert.deepEqual(messagesOf(text), [
      'urls ["/x?[redacted]","plain"]',
      'urls {"seen":[{"at":"/y?[redacted]"}]}',
      'boxed /z?[redacted]',
      'boxed ["/w?[redacted]"]',
    ]);
  });

  it('a cycle does not loop, and is still censored where a field repeats', () => {
    const cyclic: Record<string, unknown> = { password: SECRET };
    cyclic.self = cyclic;
    const text = lines((logger) => logger.info({ cyclic }, 'cycle'));
    assert.ok(!text.includes(SECRET), text);
  });
});

describe('request lines', () => {
  it('one line per request, with method, route, request id, status and response time', async () => {
    const out = sink();
    const logger = createLogger('info', out.stream as never, 'json');
    const app = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      logController: new OneLinePerRequest(),
    });
    app.post('/things/:id', async () => ({ ok: true }));
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    await app.ready();
    const res = await app.inject({
      method: 'POST',
      url: '/things/7?nonce=abc',
      headers: { authorization: `Bearer ${SECRET}` },
      payload: { password: SECRET },
    });
    assert.equal(res.statusCode, 200);
    await app.inject({ method: 'GET', url: '/boom' });
    await app.close();
    logger.flush?.();
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const forThings = lines.filter((l) => JSON.stringify(l).includes('/things/'));
    assert.equal(forThings.length, 1, out.text());
    const line = forThings[0] as {
      msg: string;
      reqId: string;
      req: { method: string; route: string; id: string };
      res: { statusCode: number };
      responseTime: number;
    };
    assert.equal(line.msg, 'request completed');
    assert.deepEqual(line.req, { method: 'POST', route: '/things/:id', id: line.reqId });
    assert.equal(line.res.statusCode, 200);
    assert.equal(typeof line.responseTime, 'number');
    assert.ok(!out.text().includes(SECRET), out.text());
    assert.ok(!out.text().includes('nonce=abc'), out.text());
    // An error is still logged (Fastify's default handler here: a line with the error).
    assert.ok(
      lines.some((l) => l.level === 50 && JSON.stringify(l).includes('/boom')),
      out.text(),
    );
  });
});

describe('host log redaction: hostile shapes', () => {
  function lines(run: (logger: ReturnType<typeof createLogger>) => void): string {
    const out = sink();
    const logger = createLogger('info', out.stream as never, 'json');
    run(logger);
    logger.flush?.();
    return out.text();
  }

  it('a very deep object or array neither throws nor silences the line', () => {
    let deep: unknown = { password: SECRET };
    let deepList: unknown = [{ password: SECRET }];
    for (let i = 0; i < 50_000; i++) {
      deep = { a: deep };
      deepList = [deepList];
    }
    const text = lines((logger) => {
      logger.info({ deep, label: 'visible-label' }, 'deep object');
      logger.info({ deepList }, 'deep array');
      logger.info('interpolated %o', deep as object);
      logger.child({ deep }).info('deep binding');
    });
    const out = text.trim().split('\n');
    assert.equal(out.length, 4, text);
    assert.ok(!text.includes(SECRET), text);
    assert.match(out[0]!, /visible-label/);
  });

  it('a huge array is walked no further than a bound, and nothing past it is written', () => {
    const list = Array.from({ length: 200_000 }, (_, i) => ({ n: i }));
    list.push({ n: -1, password: SECRET } as never);
    const redacted = redactForLog({ list }) as { list: unknown[] };
    assert.ok(redacted.list.length < list.length);
    assert.ok(!JSON.stringify(redacted).includes(SECRET));
  });

  it('what an object writes through toJSON is censored, and bytes are not walked', () => {
    class Holder {
      toJSON() {
        return { password: SECRET, label: 'visible-label' };
      }
    }
    const bytes = new Uint8Array(8);
    const text = lines((logger) => logger.info({ holder: new Holder() }, 'toJSON'));
    assert.ok(!text.includes(SECRET), text);
    assert.match(text, /visible-label/);
    assert.equal((redactForLog({ bytes }) as { bytes: unknown }).bytes, bytes);
  });

  it('a field name matches in any case (an Authorization header from a hand-built object)', () => {
    const text = lines((logger) =>
      logger.info({ headers: { Authorization: SECRET, Cookie: SECRET, APIKEY: SECRET } }, 'h'),
    );
    assert.ok(!text.includes(SECRET), text);
  });

  it('a logged object whose walk throws (getter, proxy) still gives a line, without it', () => {
    const hostile = new Proxy(
      { password: SECRET },
      {
        ownKeys() {
          throw new Error('hostile');
        },
      },
    );
    const text = lines((logger) => {
      logger.info({ hostile }, 'still logged');
      logger.info('interpolated %o', hostile);
      logger.child({ hostile }).info('child still logged');
    });
    const out = text.trim().split('\n');
    assert.equal(out.length, 3, text);
    assert.ok(!text.includes(SECRET), text);
    assert.match(out[0]!, /still logged/);
  });
});
