/**
 * What a host that controls the rows can ask of a stored credential: an aggregates job that
 * names `subject`. Answers 'ok' (the job is cancelled at once) or the enclave's error code. Used
 * to show that a client sealed its owner's subject (envelope-v1.md).
 */
import { randomUUID } from 'node:crypto';
import {
  createSessionRepository,
  storedCredential,
} from '../../src/host/db/repositories/sessions.js';
import type { TestService } from './service.js';

export async function startForSubject(
  ts: TestService,
  sessionId: string,
  subject: string,
): Promise<string> {
  const row = await createSessionRepository(ts.service.db).find(sessionId);
  const credential = row && storedCredential(row);
  if (!credential) throw new Error(`no stored credential for session ${sessionId}`);
  const jobId = randomUUID();
  try {
    await ts.service.enclave.call('aggregates.start', {
      job_id: jobId,
      credential,
      from: null,
      to: Date.now() - 60_000,
      symbols: ['BTC/USDT'],
      reporting_currency: 'USDT',
      subject,
      audience: null,
      nonce: null,
    });
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  await ts.service.enclave.call('aggregates.cancel', { job_ids: [jobId] });
  return 'ok';
}
