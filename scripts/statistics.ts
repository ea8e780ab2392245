/**
 * The median of a sample, in the sample's unit: the middle value, or the mean of the two middle
 * values of an even-sized sample.
 * @throws Error for an empty sample.
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of an empty sample');
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
