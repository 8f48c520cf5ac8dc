/**
 * Reading the exchanges' decimal strings once, without allocating: `parseDecimal` validates a
 * plain non-negative decimal (`123`, `0.5`, `1.2300`; no sign, exponent or spaces) and counts
 * its significant fraction digits, so the engine can hold quantities as exact integers in
 * float64 (docs/aggregates.md, "Arithmetic").
 */

const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Where `parseDecimal` leaves the fraction digits of the string it read: one small object per
 * caller, reused for every string, so parsing allocates nothing and keeps no state of its own.
 * (Only an integer is written here: the value is returned, because storing a double in an
 * object field costs more than the whole digit loop.)
 */
export interface DecimalPlaces {
  /** Fraction digits without trailing zeros (`1.2300` → 2, `5` → 0). */
  places: number;
}

export function decimalPlaces(): DecimalPlaces {
  return { places: 0 };
}

/**
 * The value of a plain decimal string, or NaN if `s` is not one; `out.places` is then its
 * fraction digits without trailing zeros (left as it was on NaN). `readDecimal` on a
 * one-element column: the engine calls that directly.
 */
export function parseDecimal(s: string, out: DecimalPlaces): number {
  const places = readDecimal(s, ONE, 0);
  if (places >= 0) out.places = places;
  return ONE[0]!;
}

const ONE = new Float64Array(1);

/**
 * Reads the plain decimal `s` into `column[i]` (NaN if `s` is not one) and returns its fraction
 * digits without trailing zeros (`1.2300` → 2, `5` → 0), or −1 if `s` is not a plain decimal.
 * The value goes straight into the caller's typed array and only a small integer is returned,
 * so a call allocates nothing even where V8 does not inline it (a returned double would be a
 * fresh heap number: 16 MB of garbage per 10^6 fills). Fast path (Clinger): when the digits
 * form an integer below 2^53 and there are at most 22 fraction digits, mantissa and power of
 * ten are exact doubles and one division gives the correctly rounded value, exactly what
 * `Number(s)` returns; otherwise `Number(s)` itself.
 */
export function readDecimal(s: string, column: Float64Array, i: number): number {
  const n = s.length;
  column[i] = Number.NaN;
  if (n === 0 || n > 64) return -1;
  let dot = -1;
  let mant = 0;
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c === 46 /* . */) {
      if (dot !== -1) return -1;
      dot = k;
    } else if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
    } else {
      return -1;
    }
  }
  if (dot === -1) {
    column[i] = mant < 2 ** 53 ? mant : Number(s);
    return 0;
  }
  if (dot === 0 || dot === n - 1) return -1;
  let end = n - 1;
  while (s.charCodeAt(end) === 48 /* 0 */) end--; // stops at the dot at the latest
  const frac = n - 1 - dot;
  column[i] = mant < 2 ** 53 && frac <= 22 ? mant / POW10[frac]! : Number(s);
  return end - dot;
}

/** Largest scaled integer held exactly with margin (sums and differences of two stay < 2^53). */
export const MAX_EXACT_UNITS = 2 ** 51;

/**
 * Whether quantities of at most `digits` fraction digits, up to `maxValue`, are integers
 * below MAX_EXACT_UNITS once scaled by 10^digits: then float64 holds them exactly (toUnits).
 * Otherwise (an 18-decimal asset with quantities from 0.00225 up, 8 decimals from 22.5
 * million up, more than 20 digits) the engine holds that symbol's quantities as BigInt units
 * (decimalUnits): exact too, only slower.
 */
export function fitsFloatUnits(digits: number, maxValue: number): boolean {
  return digits <= 20 && maxValue * 10 ** digits < MAX_EXACT_UNITS;
}

/** The plain decimal `s` (at most `digits` significant fraction digits) × 10^digits, exactly. */
export function decimalUnits(s: string, digits: number): bigint {
  const dot = s.indexOf('.');
  if (dot === -1) return BigInt(s) * 10n ** BigInt(digits);
  const frac = s.slice(dot + 1).replace(/0+$/, '');
  if (frac.length > digits) throw new RangeError('more fraction digits than the scale');
  return BigInt(s.slice(0, dot) + frac.padEnd(digits, '0'));
}

/**
 * `value` (parsed from a decimal string with at most `d` fraction digits) × 10^d as an exact
 * integer: Number(s) and the product are each within half an ulp, so for results below 2^51
 * (fitsFloatUnits) the error is far below 0.5 and rounding recovers the exact integer.
 */
export function toUnits(value: number, scale: number): number {
  return Math.round(value * scale);
}
