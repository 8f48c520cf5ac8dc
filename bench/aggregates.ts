/**
 * The aggregates engine (`computeAggregates`, src/enclave/aggregates/) over 10^4, 10^5 and 10^6
 * generated fills, to show linear growth and the 10^6 case on one core.
 *
 * Ceiling, measured in the same run on the same histories: a plain loop doing only FIFO lot
 * matching (per-symbol ring buffers over pre-parsed Float64Arrays, no fees, no validation, no
 * parsing, no sorting, no output), as in ../shared/research/perf-limits.md §1f. The engine
 * also parses every decimal string, validates, orders the fills, applies the fee rules and
 * builds the daily series, so the ratio says what all of that costs on top of the matching.
 *
 * Histories are deterministic (seeded): 100 symbols (90 quoted in USDT, 10 in BTC), buys and
 * sells with random sizes so lots are partly closed, flipped and shorted; fees in the quote,
 * the base or a third currency; fills listed per symbol (as a per-symbol pager returns them),
 * so the engine must sort. Each size is timed in interleaved rounds; the median is reported.
 */
import type { Fill } from '../src/enclave/exchanges/types.js';
import { computeAggregates } from '../src/enclave/aggregates/engine.js';
import { fmt, fmtRatio, median, pick, printTable } from './lib/measure.js';

const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 1);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedHistory {
  fills: Fill[];
  from: number;
  to: number;
}

/** `n` fills over 365 days, listed symbol by symbol. */
export function generateFills(n: number, seed = 1): GeneratedHistory {
  const rand = rng(seed);
  const nSym = 100;
  const days = 365;
  const perSym = Math.ceil(n / nSym);
  const fills: Fill[] = [];
  let id = 1;
  for (let s = 0; s < nSym && fills.length < n; s++) {
    const base = `C${s}`;
    const quote = s < 90 ? 'USDT' : 'BTC';
    const symbol = `${base}/${quote}`;
    let px = 10 + rand() * 1000;
    let t = START;
    const step = (days * DAY_MS) / perSym;
    for (let k = 0; k < perSym && fills.length < n; k++) {
      t += Math.floor(rand() * 2 * step);
      px *= 1 + (rand() - 0.5) * 0.01;
      const side = rand() < 0.5 ? 'buy' : 'sell';
      const amount = (0.001 + rand() * 2).toFixed(6);
      const price = px.toFixed(2);
      const r = rand();
      const fee =
        r < 0.6
          ? { cost: (Number(price) * Number(amount) * 0.001).toFixed(8), currency: quote }
          : r < 0.8
            ? { cost: (Number(amount) * 0.001).toFixed(6), currency: base }
            : r < 0.95
              ? { cost: (0.0001 + rand() * 0.001).toFixed(8), currency: 'BNB' }
              : null;
      fills.push({
        exchange: 'binance',
        symbol,
        base,
        quote,
        id: String(id++),
        orderId: null,
        side,
        price,
        amount,
        fee,
        timestamp: Math.min(t, START + days * DAY_MS - 1),
      });
    }
  }
  return { fills, from: START, to: START + days * DAY_MS };
}

/** The ceiling: FIFO matching alone over pre-parsed arrays (perf-limits §1f). */
interface PlainInput {
  sym: Int32Array;
  side: Int8Array;
  px: Float64Array;
  qty: Float64Array;
  /** Per-symbol ring buffers of `cap` lots each, allocated once outside the timing. */
  cap: number;
  lotQ: Float64Array;
  lotP: Float64Array;
}

function plainFifo({ sym, side, px, qty, cap, lotQ, lotP }: PlainInput): number {
  const nSym = 100;
  const head = new Int32Array(nSym);
  const len = new Int32Array(nSym);
  const dir = new Int8Array(nSym);
  let pnl = 0;
  for (let i = 0; i < sym.length; i++) {
    const s = sym[i]!;
    const d = side[i]!;
    let rem = qty[i]!;
    const p = px[i]!;
    const off = s * cap;
    if (dir[s] === -d) {
      while (rem > 0 && len[s]! > 0) {
        const h = off + head[s]!;
        const c = Math.min(rem, lotQ[h]!);
        pnl += d * (lotP[h]! - p) * c;
        rem -= c;
        lotQ[h]! -= c;
        if (lotQ[h] === 0) {
          head[s] = (head[s]! + 1) & (cap - 1);
          len[s]!--;
        }
      }
      if (len[s] === 0) dir[s] = 0;
    }
    if (rem > 0) {
      lotQ[off + ((head[s]! + len[s]!) & (cap - 1))] = rem;
      lotP[off + ((head[s]! + len[s]!) & (cap - 1))] = p;
      len[s]!++;
      dir[s] = d;
    }
  }
  return pnl;
}

export interface AggregatesBenchSize {
  fills: number;
  /** The first call at this size (buffers grown, GC paid). */
  firstMs: number;
  engineMs: number;
  fillsPerSec: number;
  plainMs: number;
  ratio: number;
}

export interface AggregatesBenchResult {
  name: 'aggregates';
  rounds: number;
  sizes: AggregatesBenchSize[];
}

export async function runAggregatesBench(): Promise<AggregatesBenchResult> {
  const counts = pick([10_000, 100_000, 1_000_000], [10_000, 100_000]);
  const rounds = pick(7, 3);
  const histories = counts.map((n, i) => {
    const h = generateFills(n, i + 1);
    const symIdx = new Map<string, number>();
    const sym = new Int32Array(n);
    const side = new Int8Array(n);
    const px = new Float64Array(n);
    const qty = new Float64Array(n);
    h.fills.forEach((f, k) => {
      let s = symIdx.get(f.symbol);
      if (s === undefined) symIdx.set(f.symbol, (s = symIdx.size));
      sym[k] = s;
      side[k] = f.side === 'buy' ? 1 : -1;
      px[k] = Number(f.price);
      qty[k] = Number(f.amount);
    });
    let cap = 1;
    while (cap < Math.ceil(n / 100) + 1) cap *= 2;
    const lotQ = new Float64Array(100 * cap);
    const lotP = new Float64Array(100 * cap);
    return { ...h, plain: { sym, side, px, qty, cap, lotQ, lotP } };
  });
  // Warm-up: compile both paths.
  for (let k = 0; k < 3; k++) {
    const h = histories[0]!;
    computeAggregates(h.fills, { from: h.from, to: h.to });
    plainFifo(h.plain);
  }
  // The first call at each size (ascending) grows the engine's reused work buffers
  // (src/enclave/aggregates/scratch.ts) and pays the full GC that fresh external memory
  // triggers: what a single job in a fresh enclave pays. The rounds after it reuse them.
  const first = histories.map((h) => {
    const t0 = performance.now();
    computeAggregates(h.fills, { from: h.from, to: h.to });
    return performance.now() - t0;
  });
  const engine: number[][] = counts.map(() => []);
  const plain: number[][] = counts.map(() => []);
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    histories.forEach((h, i) => {
      let t0 = performance.now();
      const a = computeAggregates(h.fills, { from: h.from, to: h.to });
      engine[i]!.push(performance.now() - t0);
      t0 = performance.now();
      sink += plainFifo(h.plain);
      plain[i]!.push(performance.now() - t0);
      sink += a.trades;
    });
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable');
  const sizes = counts.map((n, i) => {
    const engineMs = median(engine[i]!);
    const plainMs = median(plain[i]!);
    return {
      fills: n,
      firstMs: first[i]!,
      engineMs,
      fillsPerSec: (n / engineMs) * 1000,
      plainMs,
      ratio: plainMs / engineMs,
    };
  });
  printTable(
    'aggregates: computeAggregates vs plain FIFO loop (median of rounds)',
    sizes.map((s, i) => ({
      fills: s.fills,
      'first call ms': s.firstMs,
      'engine ms': s.engineMs,
      'fills/s': s.fillsPerSec,
      'plain FIFO ms': s.plainMs,
      ratio: fmtRatio(s.ratio),
      'growth vs previous': i === 0 ? '' : `${fmt(s.engineMs / sizes[i - 1]!.engineMs)}x`,
    })),
  );
  return { name: 'aggregates', rounds, sizes };
}

if (import.meta.url === `file://${process.argv[1]}`) await runAggregatesBench();
