/**
 * LOG_FORMAT: JSON lines for collectors, pino-pretty for a person; the redaction list applies to
 * both, since pino redacts before the line reaches either stream.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/host/logging.js';

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
