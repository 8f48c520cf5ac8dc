/**
 * Reading the exchanges' decimal strings once, without allocating: `parseDecimal` validates a
 * plain non-negative decimal (`123`, `0.5`, `1.2300`; no sign, exponent or spaces) and counts
 * its significant fraction digits, so the engine can hold quantities as exact integers in
 * float64 (docs/aggregates.md, "Arithmetic").
 */

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
let lastPlaces = 0;

/**
 * The value of a plain decimal string, or NaN if `s` is not one. Fast path (Clinger): when the
 * digits form an integer below 2^53 and there are at most 22 fraction digits, mantissa and
 * power of ten are exact doubles and one division gives the correctly rounded value, exactly
 * what `Number(s)` returns; otherwise `Number(s)` itself. `lastDecimalPlaces()` then tells its
 * fraction digits without trailing zeros (`1.2300` → 2).
 */
export function parseDecimal(s: string): number {
  const n = s.length;
  if (n === 0 || n > 64) return Number.NaN;
  let dot = -1;
  let lastNonZero = -1;
  let mant = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (dot !== -1 || i === 0 || i === n - 1) return Number.NaN;
      dot = i;
    } else if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      if (dot !== -1 && c !== 48) lastNonZero = i;
    } else {
      return Number.NaN;
    }
  }
  lastPlaces = dot === -1 || lastNonZero === -1 ? 0 : lastNonZero - dot;
  const frac = dot === -1 ? 0 : n - 1 - dot;
  return mant < 2 ** 53 && frac <= 22 ? mant / POW10[frac]! : Number(s);
}

/** Fraction digits (without trailing zeros) of the last string `parseDecimal` accepted. */
export function lastDecimalPlaces(): number {
  return lastPlaces;
}

/** Largest scaled integer held exactly with margin (sums and differences of two stay < 2^53). */
export const MAX_EXACT_UNITS = 2 ** 51;

/**
 * The number of fraction digits (at most `wanted`, at most 20) at which every quantity up to
 * `maxValue` is an integer below MAX_EXACT_UNITS. Equal to `wanted` except for absurd ranges.
 */
export function exactScaleDigits(wanted: number, maxValue: number): number {
  let d = Math.min(wanted, 20);
  while (d > 0 && maxValue * 10 ** d >= MAX_EXACT_UNITS) d--;
  return d;
}

/**
 * `value` (parsed from a decimal string with at most `d` fraction digits) × 10^d as an exact
 * integer: Number(s) and the product are each within half an ulp, so for results below 2^51
 * the error is far below 0.5 and rounding recovers the exact integer.
 */
export function toUnits(value: number, scale: number): number {
  return Math.round(value * scale);
}
