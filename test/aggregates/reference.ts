/**
 * An independent, slow reference implementation of docs/aggregates.md for the tests: exact
 * rational arithmetic on BigInt (every decimal string parsed exactly, unit prices kept as
 * fractions), plain arrays, no shared code with the engine except the Fill type. The engine
 * must agree with it up to float rounding.
 */
import type { Fill } from '../../src/enclave/exchanges/types.js';

const DAY = 86_400_000n;

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

/** An exact fraction n/d, d > 0, in lowest terms. */
export class Q {
  readonly n: bigint;
  readonly d: bigint;
  constructor(n: bigint, d = 1n) {
    if (d === 0n) throw new RangeError('zero denominator');
    if (d < 0n) [n, d] = [-n, -d];
    const g = gcd(n, d) || 1n;
    this.n = n / g;
    this.d = d / g;
  }
  static parse(s: string): Q {
    if (!/^\d+(\.\d+)?$/.test(s)) throw new RangeError(`not a decimal: ${s}`);
    const [i, f = ''] = s.split('.');
    return new Q(BigInt(i! + f), 10n ** BigInt(f.length));
  }
  add(o: Q): Q {
    return new Q(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  sub(o: Q): Q {
    return new Q(this.n * o.d - o.n * this.d, this.d * o.d);
  }
  mul(o: Q): Q {
    return new Q(this.n * o.n, this.d * o.d);
  }
  div(o: Q): Q {
    return new Q(this.n * o.d, this.d * o.n);
  }
  cmp(o: Q): number {
    const x = this.n * o.d - o.n * this.d;
    return x < 0n ? -1 : x > 0n ? 1 : 0;
  }
  min(o: Q): Q {
    return this.cmp(o) <= 0 ? this : o;
  }
  get sign(): number {
    return this.n < 0n ? -1 : this.n > 0n ? 1 : 0;
  }
  toNumber(): number {
    // Exact enough for comparison: scale to 30 digits before converting.
    const scaled = (this.n * 10n ** 30n) / this.d;
    return Number(scaled) / 1e30;
  }
}
const ZERO = new Q(0n);

function compareIds(a: string, b: string): number {
  const ai = /^\d+$/.test(a);
  const bi = /^\d+$/.test(b);
  if (ai && bi) {
    const x = BigInt(a);
    const y = BigInt(b);
    if (x !== y) return x < y ? -1 : 1;
  } else if (ai !== bi) return ai ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ReferenceFigures {
  trades: number;
  volume: number;
  pnl: number;
  pnlExact: Q;
  sharpe: number | null;
  maxDrawdown: number;
  winRate: number | null;
  fees: Record<string, number>;
  feesOther: Record<string, number>;
  byQuote: Record<string, { trades: number; volume: number; pnl: number }>;
  symbols: Record<
    string,
    { trades: number; volume: number; pnl: number; fees: Record<string, number>; position: number }
  >;
  daily: number[];
}

interface Lot {
  qty: Q;
  unit: Q;
}

export function referenceAggregates(
  fills: readonly Fill[],
  from: number,
  to: number,
  rc = 'USDT',
): ReferenceFigures {
  const inWindow = fills
    .filter((f) => f.timestamp >= from && f.timestamp < to)
    .sort(
      (a, b) =>
        a.timestamp - b.timestamp ||
        compareIds(a.id, b.id) ||
        (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0),
    );
  const day0 = BigInt(from) / DAY;
  const nDays = to > from ? Number(BigInt(to - 1) / DAY - day0 + 1n) : 0;
  const daily: Q[] = Array.from({ length: nDays }, () => ZERO);
  const lots = new Map<string, { side: number; lots: Lot[] }>();
  const add = (m: Map<string, Q>, k: string, v: Q) => m.set(k, (m.get(k) ?? ZERO).add(v));
  const fees = new Map<string, Q>();
  const feesOther = new Map<string, Q>();
  const quote = new Map<string, { trades: number; volume: Q; pnl: Q }>();
  const sym = new Map<string, { trades: number; volume: Q; pnl: Q; fees: Map<string, Q> }>();
  let pnl = ZERO;
  let volume = ZERO;
  let peak = ZERO;
  let maxDd = ZERO;
  let closes = 0;
  let wins = 0;
  for (const f of inWindow) {
    const p = Q.parse(f.price);
    const q = Q.parse(f.amount);
    const cost = p.mul(q);
    let units = q;
    let quoteFee = ZERO;
    if (f.fee) {
      const c = Q.parse(f.fee.cost);
      add(fees, f.fee.currency, c);
      if (f.fee.currency === f.quote) quoteFee = c;
      else if (f.fee.currency === f.base) units = f.side === 'buy' ? q.sub(c) : q.add(c);
      else add(feesOther, f.fee.currency, c);
    }
    if (units.sign <= 0) throw new RangeError('base fee not below amount');
    const unit = cost.div(units);
    const dir = f.side === 'buy' ? 1 : -1;
    const st = lots.get(f.symbol) ?? { side: 0, lots: [] };
    lots.set(f.symbol, st);
    let rem = units;
    let fillPnl = ZERO;
    let closed = false;
    while (st.side === -dir && rem.sign > 0 && st.lots.length > 0) {
      const lot = st.lots[0]!;
      const c = rem.min(lot.qty);
      const gain = dir === 1 ? lot.unit.sub(unit) : unit.sub(lot.unit);
      fillPnl = fillPnl.add(gain.mul(c));
      rem = rem.sub(c);
      closed = true;
      const left = lot.qty.sub(c);
      if (left.sign === 0) st.lots.shift();
      else st.lots[0] = { qty: left, unit: lot.unit };
    }
    if (st.lots.length === 0) st.side = 0;
    if (rem.sign > 0) {
      st.lots.push({ qty: rem, unit });
      st.side = dir;
    }
    fillPnl = fillPnl.sub(quoteFee);

    const s = sym.get(f.symbol) ?? { trades: 0, volume: ZERO, pnl: ZERO, fees: new Map() };
    sym.set(f.symbol, s);
    s.trades++;
    s.volume = s.volume.add(cost);
    s.pnl = s.pnl.add(fillPnl);
    if (f.fee) add(s.fees, f.fee.currency, Q.parse(f.fee.cost));
    if (f.quote === rc) {
      volume = volume.add(cost);
      pnl = pnl.add(fillPnl);
      if (pnl.cmp(peak) > 0) peak = pnl;
      const dd = peak.sub(pnl);
      if (dd.cmp(maxDd) > 0) maxDd = dd;
      const d = Number(BigInt(f.timestamp) / DAY - day0);
      daily[d] = daily[d]!.add(fillPnl);
      if (closed) {
        closes++;
        if (fillPnl.sign > 0) wins++;
      }
    } else {
      const b = quote.get(f.quote) ?? { trades: 0, volume: ZERO, pnl: ZERO };
      quote.set(f.quote, b);
      b.trades++;
      b.volume = b.volume.add(cost);
      b.pnl = b.pnl.add(fillPnl);
    }
  }

  let sharpe: number | null = null;
  if (nDays >= 2) {
    const n = BigInt(nDays);
    const mean = daily.reduce((a, b) => a.add(b), ZERO).div(new Q(n));
    const ss = daily.reduce((a, x) => a.add(x.sub(mean).mul(x.sub(mean))), ZERO);
    const variance = ss.div(new Q(n - 1n));
    if (variance.sign > 0)
      sharpe = (mean.toNumber() / Math.sqrt(variance.toNumber())) * Math.sqrt(365);
  }
  const num = (m: Map<string, Q>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toNumber()]));
  return {
    trades: inWindow.length,
    volume: volume.toNumber(),
    pnl: pnl.toNumber(),
    pnlExact: pnl,
    sharpe,
    maxDrawdown: maxDd.toNumber(),
    winRate: closes === 0 ? null : wins / closes,
    fees: num(fees),
    feesOther: num(feesOther),
    byQuote: Object.fromEntries(
      [...quote].map(([k, v]) => [
        k,
        { trades: v.trades, volume: v.volume.toNumber(), pnl: v.pnl.toNumber() },
      ]),
    ),
    symbols: Object.fromEntries(
      [...sym].map(([k, v]) => {
        const st = lots.get(k)!;
        const pos = st.lots.reduce((a, l) => a.add(l.qty), ZERO);
        return [
          k,
          {
            trades: v.trades,
            volume: v.volume.toNumber(),
            pnl: v.pnl.toNumber(),
            fees: num(v.fees),
            position: st.side * pos.toNumber(),
          },
        ];
      }),
    ),
    daily: daily.map((d) => d.toNumber()),
  };
}
