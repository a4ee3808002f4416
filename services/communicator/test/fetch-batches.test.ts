import { describe, expect, it } from 'vitest';
import { fetchBatches } from '../src/domain/fetch-batches.js';

const MB = 1024 * 1024;

describe('IMAP FETCH batches', () => {
  it('when mail is small, then batches are cut by count and keep UID order', () => {
    const uids = [3, 5, 8, 9, 12];
    const sizes = new Map(uids.map((u) => [u, 2_000]));
    expect(fetchBatches(uids, sizes, { maxCount: 2, maxBytes: 32 * MB })).toEqual([[3, 5], [8, 9], [12]]);
  });

  it('when a backlog holds multi-megabyte mail, then no batch exceeds the byte budget', () => {
    const uids = [1, 2, 3, 4, 5, 6];
    const sizes = new Map([
      [1, 10 * MB],
      [2, 10 * MB],
      [3, 10 * MB],
      [4, 10 * MB],
      [5, 1_000],
      [6, 1_000],
    ]);
    const batches = fetchBatches(uids, sizes, { maxCount: 100, maxBytes: 32 * MB });
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    for (const b of batches)
      expect(b.reduce((n, u) => n + (sizes.get(u) ?? 0), 0)).toBeLessThanOrEqual(32 * MB);
  });

  it('when one message alone is larger than the budget, then it travels alone and nothing is dropped', () => {
    const sizes = new Map([
      [7, 1_000],
      [8, 50 * MB],
      [9, 1_000],
    ]);
    expect(fetchBatches([7, 8, 9], sizes, { maxCount: 100, maxBytes: 32 * MB })).toEqual([[7], [8], [9]]);
  });

  it('when there is nothing to fetch, then there are no batches', () => {
    expect(fetchBatches([], new Map(), { maxCount: 100, maxBytes: MB })).toEqual([]);
  });
});
