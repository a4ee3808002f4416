import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { parseJsonVerdict } from '../src/llm-client.js';

const Verdict = z.object({ is_enough: z.boolean(), response: z.string() });

describe('parseJsonVerdict', () => {
  it('when a reasoning model thinks aloud (with braces) before the JSON, then the verdict after </think> is read', () => {
    const content =
      '<think>The user wants {a report}; maybe {"is_enough": false}? No, context is clear.</think>\n' +
      '{"is_enough": true, "response": "Отчёт по продажам"}';
    expect(parseJsonVerdict(content, Verdict)).toEqual({
      ok: true,
      value: { is_enough: true, response: 'Отчёт по продажам' },
    });
  });

  it('when the answer is fenced or wrapped in prose, then the object inside is read', () => {
    expect(
      parseJsonVerdict(
        'Вот ответ:\n```json\n{"is_enough": false, "response": "Уточните период"}\n```',
        Verdict,
      ),
    ).toMatchObject({ ok: true });
    expect(parseJsonVerdict('Ответ: {"is_enough": true, "response": "ok"} — готово', Verdict)).toMatchObject({
      ok: true,
    });
  });

  it('when the model only thinks and never answers, then the problem says the answer is empty', () => {
    expect(parseJsonVerdict('<think>{"is_enough": true, "response": "draft"} hmm', Verdict)).toEqual({
      ok: false,
      problem: 'empty answer',
    });
  });

  it('when a field has the wrong type, then the problem names the field', () => {
    expect(parseJsonVerdict('{"is_enough": "maybe", "response": "x"}', Verdict)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('is_enough'),
    });
  });
});
