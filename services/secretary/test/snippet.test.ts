import { describe, expect, it } from 'vitest';
import { snippet } from '../src/data/lexical-knowledge-retriever.js';

const WINDOW = 30;

/** The definition the sliding count must agree with: the first window with the most query words. */
function bestWindowByDefinition(hits: boolean[]): number {
  let bestStart = 0;
  let bestCount = -1;
  for (let start = 0; start < Math.max(1, hits.length - WINDOW + 1); start++) {
    const count = hits.slice(start, start + WINDOW).filter(Boolean).length;
    if (count > bestCount) {
      bestCount = count;
      bestStart = start;
    }
  }
  return bestStart;
}

/** A deterministic stream of numbers in [0, 1): the same cases on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('snippet', () => {
  it('when the query words cluster at the end of a long passage, then the window ends there, marked, after an ellipsis', () => {
    const text = `${Array.from({ length: 80 }, (_, i) => `слово${i}`).join(' ')} доступ к хранилищу DWH`;
    const result = snippet(text, ['доступ', 'хранилище', 'dwh']);
    expect(result.startsWith('… ')).toBe(true);
    expect(result.endsWith(' …')).toBe(false);
    expect(result).toContain('**доступ** к **хранилищу** **DWH**');
    expect(result.split(' ').filter((t) => t !== '…')).toHaveLength(WINDOW);
  });

  it('when the passage is shorter than the window, then it is shown whole without ellipses', () => {
    expect(snippet('Куб авторизаций по картам', ['авторизации'])).toBe('Куб **авторизаций** по картам');
  });

  it('when windows are compared, then the one chosen is the first with the most query words, as by definition', () => {
    const next = random(7);
    for (let round = 0; round < 300; round++) {
      const length = 1 + Math.floor(next() * 120);
      const hits = Array.from({ length }, () => next() < 0.15);
      const tokens = hits.map((hit, i) => (hit ? `ключ${i}` : `прочее${i}`));
      const expected = bestWindowByDefinition(hits);
      const window = tokens
        .slice(expected, expected + WINDOW)
        .map((t, i) => (hits[expected + i] ? `**${t}**` : t))
        .join(' ');
      const result = snippet(tokens.join(' '), ['ключ']);
      expect(result, `round ${round}`).toBe(
        `${expected > 0 ? '… ' : ''}${window}${expected + WINDOW < length ? ' …' : ''}`,
      );
    }
  });
});
