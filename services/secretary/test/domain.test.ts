import { ACTIONS } from '@workemon/contracts';
import { describe, expect, it } from 'vitest';
import { channelDefaultAction, chooseAction } from '../src/domain/action-policy.js';
import { threadWithAnswer, threadWithQuestion } from '../src/domain/clarification-thread.js';
import { KeyedSerializer } from '../src/domain/keyed-serializer.js';

describe('action policy', () => {
  it('when nothing is proposed, then email replies by mail and tg/direct by message', () => {
    expect(channelDefaultAction('email')).toBe('ответить на письмо');
    expect(channelDefaultAction('tg')).toBe('ответить сообщением');
    expect(channelDefaultAction('direct')).toBe('ответить сообщением');
    expect(chooseAction('tg', undefined)).toBe('ответить сообщением');
  });

  it('when the analyst proposes an action, then only escalations and the channel reply pass; уточнить never does', () => {
    const allowedOnTg = ACTIONS.filter((a) => chooseAction('tg', a) === a);
    expect(allowedOnTg.sort()).toEqual(
      [
        'ответить сообщением',
        'создать jira-task',
        'написать в telegram сотруднику',
        'написать в рассылку департамента',
      ].sort(),
    );
    expect(chooseAction('email', 'уточнить')).toBe('ответить на письмо');
    expect(chooseAction('email', 'ответить на письмо')).toBe('ответить на письмо');
    expect(chooseAction('direct', 'ответить на письмо')).toBe('ответить сообщением');
  });
});

describe('clarification thread', () => {
  it('when a thread grows, then every part is labelled and delimited in order', () => {
    const first = threadWithQuestion('Хочу аналитику', 'Каких операций?', true);
    const answered = threadWithAnswer(first, 'Авторизаций');
    const second = threadWithQuestion(answered, 'За какой период?', false);
    expect(threadWithAnswer(second, 'За май')).toBe(
      [
        'Исходный запрос:\nХочу аналитику',
        'Уточняющий вопрос:\nКаких операций?',
        'Ответ пользователя:\nАвторизаций',
        'Уточняющий вопрос:\nЗа какой период?',
        'Ответ пользователя:\nЗа май',
      ].join('\n---\n'),
    );
  });
});

describe('KeyedSerializer', () => {
  it('when tasks share a key, then they run one after another; other keys run alongside', async () => {
    const serializer = new KeyedSerializer();
    const events: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        events.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      serializer.run('a', task('a1', 30, true)),
      serializer.run('a', task('a2', 5)),
      serializer.run('b', task('b1', 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(events.indexOf('end a1')).toBeLessThan(events.indexOf('start a2'));
    expect(events.indexOf('start b1')).toBeLessThan(events.indexOf('end a1'));
    await new Promise((r) => setTimeout(r, 0));
    expect(serializer.size).toBe(0);
  });
});
