/**
 * The open lots of one symbol for FIFO matching (docs/aggregates.md, "Realized PnL"): a ring
 * buffer of (quantity in exact integer units, unit price) in typed arrays, all on one side of
 * the market (long or short), oldest first. It grows by doubling, so matching a fill costs no
 * allocation; `match` closes the oldest lots first and opens a lot with whatever is left.
 */

export class LotQueue {
  private qty: Float64Array;
  private px: Float64Array;
  private head = 0;
  private len = 0;
  /** +1 when the open lots are long, -1 when short, 0 when flat. */
  side: 0 | 1 | -1 = 0;
  /** Set by `match`: whether the last fill closed any quantity. */
  closed = false;

  constructor(capacity = 16) {
    this.qty = new Float64Array(capacity);
    this.px = new Float64Array(capacity);
  }

  /**
   * A fill of `units` (integer, > 0) at `unitPrice` on `side` (+1 buy, -1 sell). Returns the
   * realized PnL of the quantity it closes, in quote currency, before fees:
   * Σ (sell unit price − buy unit price) × closed units / `scale`.
   */
  match(side: 1 | -1, units: number, unitPrice: number, scale: number): number {
    let rem = units;
    let pnl = 0;
    this.closed = false;
    if (this.side === -side) {
      const cap = this.qty.length;
      while (rem > 0 && this.len > 0) {
        const h = this.head;
        const lotQty = this.qty[h]!;
        const c = lotQty <= rem ? lotQty : rem;
        // A buy closing shorts gains (short price − buy price); a sell closing longs gains
        // (sell price − long price).
        pnl += (side === 1 ? this.px[h]! - unitPrice : unitPrice - this.px[h]!) * c;
        rem -= c;
        if (c === lotQty) {
          this.head = h + 1 === cap ? 0 : h + 1;
          this.len--;
        } else {
          this.qty[h] = lotQty - c;
        }
      }
      this.closed = rem < units;
      if (this.len === 0) this.side = 0;
    }
    if (rem > 0) {
      this.push(rem, unitPrice);
      this.side = side;
    }
    return pnl / scale;
  }

  /** Signed open quantity in integer units (> 0 long, < 0 short). */
  position(): number {
    let sum = 0;
    const cap = this.qty.length;
    for (let k = 0, i = this.head; k < this.len; k++, i = i + 1 === cap ? 0 : i + 1) {
      sum += this.qty[i]!;
    }
    return this.side * sum;
  }

  get openLots(): number {
    return this.len;
  }

  private push(q: number, p: number): void {
    if (this.len === this.qty.length) this.grow();
    const cap = this.qty.length;
    let i = this.head + this.len;
    if (i >= cap) i -= cap;
    this.qty[i] = q;
    this.px[i] = p;
    this.len++;
  }

  private grow(): void {
    const cap = this.qty.length;
    const qty = new Float64Array(cap * 2);
    const px = new Float64Array(cap * 2);
    for (let k = 0, i = this.head; k < this.len; k++, i = i + 1 === cap ? 0 : i + 1) {
      qty[k] = this.qty[i]!;
      px[k] = this.px[i]!;
    }
    this.qty = qty;
    this.px = px;
    this.head = 0;
  }
}

/**
 * The same FIFO with quantities as BigInt units, for a symbol whose quantities float64 cannot
 * hold exactly as integers (decimal.ts, fitsFloatUnits). Money stays float64 as everywhere:
 * Σ (sell unit price − buy unit price) × closed units / `scale`.
 */
export class ExactLotQueue {
  private qty: bigint[] = [];
  private px: number[] = [];
  private head = 0;
  side: 0 | 1 | -1 = 0;
  closed = false;

  match(side: 1 | -1, units: bigint, unitPrice: number, scale: number): number {
    let rem = units;
    let pnl = 0;
    this.closed = false;
    if (this.side === -side) {
      while (rem > 0n && this.head < this.qty.length) {
        const h = this.head;
        const lotQty = this.qty[h]!;
        const c = lotQty <= rem ? lotQty : rem;
        pnl += (side === 1 ? this.px[h]! - unitPrice : unitPrice - this.px[h]!) * Number(c);
        rem -= c;
        if (c === lotQty) this.head++;
        else this.qty[h] = lotQty - c;
      }
      this.closed = rem < units;
      if (this.head === this.qty.length) {
        this.side = 0;
        this.qty = [];
        this.px = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.qty.length) {
        this.qty = this.qty.slice(this.head);
        this.px = this.px.slice(this.head);
        this.head = 0;
      }
    }
    if (rem > 0n) {
      this.qty.push(rem);
      this.px.push(unitPrice);
      this.side = side;
    }
    return pnl / scale;
  }

  /** Signed open quantity in units (> 0 long, < 0 short), as the nearest double. */
  position(): number {
    let sum = 0n;
    for (let i = this.head; i < this.qty.length; i++) sum += this.qty[i]!;
    return this.side * Number(sum);
  }
}
