import { describe, expect, it } from 'vitest';
import { replyText } from '../src/domain/process-inbound-message-use-case.js';

const answer = {
  is_enough: true,
  request: 'Где посмотреть отказы по картам?',
  action: 'ответить на письмо' as const,
  question: '',
  response: 'Смотрите куб авторизаций.',
};

describe('reply text', () => {
  it('when the answer rests on knowledge documents, then the reply ends with their titles and links', () => {
    const text = replyText({
      ...answer,
      sources: [
        {
          id: 'authorizations-cube',
          title: 'Аналитический куб авторизаций',
          url: 'https://wiki.example/auth',
        },
        { id: 'glossary', title: 'Глоссарий' },
      ],
    });
    expect(text).toBe(
      'Смотрите куб авторизаций.\n\nИсточники:\n— Аналитический куб авторизаций (https://wiki.example/auth)\n— Глоссарий',
    );
  });

  it('when there are no sources (or an older secretary sends none), then the reply is the answer alone', () => {
    expect(replyText({ ...answer, sources: [] })).toBe('Смотрите куб авторизаций.');
    expect(replyText(answer)).toBe('Смотрите куб авторизаций.');
  });

  it('when the answer is a clarifying question, then no sources are appended', () => {
    expect(
      replyText({
        ...answer,
        action: 'уточнить',
        question: 'Каких операций?',
        sources: [{ id: 'a', title: 'A' }],
      }),
    ).toBe('Каких операций?');
  });
});
