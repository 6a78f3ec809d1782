/**
 * Small statistics helpers.
 *
 * @module
 */

/** The q-quantile (0..1) of `xs` by linear interpolation between closest ranks; NaN when empty. */
export function quantile (xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

/** The median of `xs`. */
export function median (xs: readonly number[]): number {
  return quantile(xs, 0.5)
}

/** Relative spread of `xs`: (max - min) / median. */
export function spread (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  return (Math.max(...xs) - Math.min(...xs)) / median(xs)
}
