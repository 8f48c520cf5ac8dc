/** Log entries for tests that need some to append: metadata of an unrelated session, nothing else. */
import { randomUUID } from 'node:crypto';
import { sessionLogSubject, type LogEntry } from '../../src/protocol/log/entry.js';

/** A `credential.expired` entry of a fresh session id. */
export const expiredEntry = (): LogEntry => ({
  v: 1,
  type: 'credential.expired',
  subject: sessionLogSubject(randomUUID()),
  time: 1_800_000_000,
});
