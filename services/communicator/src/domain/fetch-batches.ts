/**
 * Splits UIDs (ascending, kept in order) into FETCH batches of at most `maxCount` messages and
 * `maxBytes` bytes, so a backlog of multi-megabyte mail never sits in memory all at once.
 * A single message larger than `maxBytes` travels alone. Unknown sizes count as 0.
 */
export function fetchBatches(
  uids: number[],
  sizes: ReadonlyMap<number, number>,
  limits: { maxCount: number; maxBytes: number },
): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const uid of uids) {
    const size = sizes.get(uid) ?? 0;
    if (current.length > 0 && (current.length >= limits.maxCount || bytes + size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(uid);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
