/**
 * Credential-key rotation is scheduled from the stored keyring's time, not from process start:
 * a host restarted after the period has passed rotates at once (and once), even when the period
 * is above a Node timer's range (30 days > 2^31 ms).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { startTestService, type TestService } from '../helpers/service.js';

const BOUND_MS = 60_000;
const THIRTY_DAYS = String(30 * 86400);

describe('credential key rotation after a restart', () => {
  let ts: TestService | undefined;
  after(async () => ts?.stop());

  it('a keyring older than the period is rotated once, at once, after a restart', async () => {
    ts = await startTestService('pglite');
    const generation = async (s: TestService) =>
      Number(
        (await s.service.db.query<{ g: number }>('SELECT max(generation) AS g FROM enclave_state'))
          .rows[0]!.g,
      );
    const first = await generation(ts);
    await ts.service.db.query("UPDATE enclave_state SET created_at = now() - interval '40 days'");
    ts = await ts.restart({ KEY_ROTATION_INTERVAL_SECONDS: THIRTY_DAYS });
    const until = Date.now() + BOUND_MS;
    while ((await generation(ts)) === first) {
      assert.ok(Date.now() < until, 'no rotation after the restart');
      await sleep(50);
    }
    // A few more checks' worth of time: the new keyring is recent, so nothing more is due.
    await sleep(300);
    assert.equal(await generation(ts), first + 1, 'rotated more than once');
    const { rows } = await ts.service.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM ops_logs WHERE event_type = 'keyring.rotated'",
    );
    assert.equal(rows[0]!.n, 1);
  });
});
