/** A listing's fills are bounded: past maxFills it fails with a closed code instead of growing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FillSet } from '../../src/enclave/exchanges/fills.js';
import type { Fill } from '../../src/enclave/exchanges/types.js';

const fill = (id: number): Fill => ({
  exchange: 'binance',
  symbol: 'BTC/USDT',
  base: 'BTC',
  quote: 'USDT',
  id: String(id),
  orderId: null,
  side: 'buy',
  price: '1',
  amount: '1',
  fee: null,
  timestamp: 1000 + id,
});

describe('FillSet bound', () => {
  it('holds up to maxFills, then throws AGGREGATES_TOO_MANY_FILLS', () => {
    const set = new FillSet(0, 1e12, 3);
    assert.equal(set.addAll([fill(1), fill(2), fill(3), fill(3)]), 3); // the repeat is not counted
    assert.throws(() => set.addAll([fill(4)]), { code: 'AGGREGATES_TOO_MANY_FILLS' });
    assert.equal(set.size, 3);
  });
});
