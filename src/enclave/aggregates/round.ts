/**
 * How figures are rounded before they are signed (docs/aggregates.md, "Arithmetic and
 * rounding"). The engine computes in float64 from each decimal string parsed once, so a figure
 * can differ from the exact decimal computation by float rounding: a few ulps of the amounts it
 * sums, relative to the notional traded. Rounding to 12 significant digits hides that noise
 * (two honest implementations then usually agree digit for digit) and keeps JCS output stable:
 * finite numbers only, −0 written as 0.
 */

/** Significant digits of every signed number. */
export const SIGNIFICANT_DIGITS = 12;
/**
 * A money figure whose magnitude is at most this fraction of the notional it was computed from
 * is float noise around an exact zero, and is reported as 0 (a real price tick is ~1e-8).
 */
export const SNAP_RELATIVE = 1e-12;

export function roundFigure(x: number): number {
  if (!Number.isFinite(x)) throw new RangeError('aggregate figure is not finite');
  if (x === 0) return 0; // also turns −0 into 0
  const r = Number(x.toPrecision(SIGNIFICANT_DIGITS));
  return r === 0 ? 0 : r;
}

/** A money figure computed from fills of total notional `magnitude` (≥ 0). */
export function roundMoney(x: number, magnitude: number): number {
  if (Math.abs(x) <= SNAP_RELATIVE * magnitude) return 0;
  return roundFigure(x);
}
