/**
 * Exact decimal strings on the wire (the daily series of `cloister/aggregates/v3`,
 * docs/protocol/signed-aggregates.md): their canonical form, and exact addition and
 * subtraction with BigInt, so a signer and every verifier get the same digits. Pure, no `node:`.
 */
import { z } from 'zod';

/** Longest decimal string accepted (a float64 written out in full is below 400 characters). */
const MAX_DECIMAL_CHARS = 700;

/**
 * A canonical plain decimal: optional minus, no leading zeros, no trailing fraction zeros, no
 * exponent, never `-0` (`0`, `-12.5`, `0.0001`).
 */
export const DecimalStringSchema = z
  .string()
  .max(MAX_DECIMAL_CHARS)
  .regex(/^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$/, {
    message: 'must be a canonical plain decimal string',
  })
  .refine((s) => s !== '-0', 'must not be -0');

interface Scaled {
  units: bigint;
  scale: number;
}

/** `s` (plain decimal, optionally with an exponent as `String(number)` writes it) as units × 10^-scale. */
function parse(s: string): Scaled {
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:e([+-]?[0-9]+))?$/.exec(s);
  if (!m) throw new RangeError('not a decimal');
  const [, sign, int, frac = '', exp = '0'] = m;
  let units = BigInt(int! + frac);
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { units: sign === '-' ? -units : units, scale };
}

/** The canonical string of units × 10^-scale. */
function format({ units, scale }: Scaled): string {
  const neg = units < 0n;
  let digits = (neg ? -units : units).toString();
  if (digits === '0') return '0';
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const int = digits.slice(0, digits.length - scale);
    const frac = digits.slice(digits.length - scale).replace(/0+$/, '');
    digits = frac ? `${int}.${frac}` : int;
  }
  return neg ? `-${digits}` : digits;
}

function align(a: Scaled, b: Scaled): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [
    a.units * 10n ** BigInt(scale - a.scale),
    b.units * 10n ** BigInt(scale - b.scale),
    scale,
  ];
}

/** The exact decimal value of a finite number as `String(x)` writes it, in canonical plain form. */
export function plainDecimal(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError('not finite');
  return format(parse(String(x)));
}

/** a + b, exactly. */
export function addDecimals(a: string, b: string): string {
  const [x, y, scale] = align(parse(a), parse(b));
  return format({ units: x + y, scale });
}

/** a − b, exactly. */
export function subDecimals(a: string, b: string): string {
  const [x, y, scale] = align(parse(a), parse(b));
  return format({ units: x - y, scale });
}
