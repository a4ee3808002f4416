import { describe, expect, it } from 'vitest';
import { queryRows, TEST_SERVER_URL } from '@workemon/testkit';
import { lexemeLevels } from '../src/data/lexical-knowledge-retriever.js';

// The retriever reads where a passage has a word from its tsvector's text form instead of asking
// PostgreSQL `search @@ 'word':A` per word and passage: both must agree on every lexeme.
describe('lexemeLevels (tsvector text → field of each lexeme)', () => {
  it('when lexemes carry quotes, backslashes, spaces, colons and mixed weights, then each level is what @@ says', async () => {
    const vectors = [
      `'кошельк':1A,7B,12 'операц':3B,9 'авторизац':5`,
      `'it''s':1A 'a\\b':2B 'two words':3 'c:d':4C,5A 'plain'`,
      `'x':1D,2C 'y':3B,4C 'z':16383A`,
    ];
    for (const literal of vectors) {
      const rows = await queryRows<{ text: string; lexeme: string; level: number }>(
        TEST_SERVER_URL,
        `select v::text as text, l.lexeme,
                case when v @@ (quote_literal(l.lexeme) || ':A')::tsquery then 3
                     when v @@ (quote_literal(l.lexeme) || ':B')::tsquery then 2
                     when v @@ quote_literal(l.lexeme)::tsquery then 1 else 0 end as level
           from (select $1::tsvector as v) t, unnest(tsvector_to_array(v)) as l(lexeme)`,
        [literal],
      );
      expect(rows.length).toBeGreaterThan(2);
      const levels = lexemeLevels(rows[0]?.text ?? '');
      expect(Object.fromEntries(levels)).toEqual(Object.fromEntries(rows.map((r) => [r.lexeme, r.level])));
    }
  });
});
