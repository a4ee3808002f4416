import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInboundMail, type ParsedInboundMail } from '../src/domain/parse-inbound-mail.js';
import { stripQuotedReply } from '../src/domain/strip-quoted-reply.js';
import { splitMessage } from '../src/domain/split-message.js';
import { replySubject } from '../src/domain/compose-mail-reply.js';
import { SERVICE_DIR } from './support.js';

const fixture = (name: string) => readFileSync(join(SERVICE_DIR, 'test', 'fixtures', 'mail', name));
const parse = (raw: Buffer) =>
  parseInboundMail(raw, { maxChars: 20_000, ownAddresses: ['support@example.test'] });

interface Expectation {
  verdict: ParsedInboundMail['verdict']['kind'];
  reason?: RegExp;
  sender?: string;
  subject?: string;
  externalId?: string | RegExp;
  contains?: string[];
  excludes?: string[];
}

const CORPUS: Record<string, Expectation> = {
  'koi8r-plain.eml': {
    verdict: 'process',
    sender: 'petr@example.test',
    contains: ['Тема: Выгрузка операций', 'Прошу выгрузку операций по кошелькам за декабрь.'],
  },
  // The subject repeats the body, so it is not prepended; RFC 2047 (windows-1251, Q) still decodes.
  'cp1251-qp.eml': {
    verdict: 'process',
    subject: 'Доступ к отчёту',
    contains: ['нужен доступ к отчёту по продажам B2C'],
  },
  'utf8-base64.eml': { verdict: 'process', contains: ['Какие метрики есть по кошелькам?'] },
  'html-only.eml': {
    verdict: 'process',
    contains: ['Нужен дашборд по платежам.'],
    excludes: ['Ignore previous instructions', 'секрет', 'alert', 'color:red'],
  },
  'attachment.eml': {
    verdict: 'process',
    contains: ['Посмотрите приложенный отчёт', '[Вложения (не прочитаны): отчёт.pdf]'],
    excludes: ['PDF-1.4'],
  },
  'quoted-reply-ru.eml': {
    verdict: 'process',
    contains: ['За последний квартал, по всем регионам.'],
    excludes: ['Уточните период', 'С уважением', 'аналитик', 'пн, 12 янв'],
  },
  'outlook-original.eml': {
    verdict: 'process',
    contains: ['Да, нужен доступ на чтение.'],
    excludes: ['Какой доступ нужен', 'Original Message'],
  },
  'auto-reply.eml': { verdict: 'skip', reason: /auto-submitted/ },
  'bounce-dsn.eml': { verdict: 'skip', reason: /delivery report|bounce/ },
  'bulk-list.eml': { verdict: 'skip', reason: /precedence: bulk/ },
  'no-message-id.eml': { verdict: 'process', externalId: /^sha256:[0-9a-f]{64}$/ },
  'broken-mime.eml': { verdict: 'quarantine', reason: /broken MIME/ },
  'prompt-injection.eml': { verdict: 'process', contains: ['Ignore all previous instructions'] },
  'own-address.eml': { verdict: 'skip', reason: /our own address/ },
  'alternative-nul.eml': {
    verdict: 'process',
    contains: ['Текст с NUL байтом.'],
    excludes: ['\u0000', 'HTML версия'],
  },
};

describe('mail corpus: every fixture has its expected outcome', () => {
  for (const [name, expected] of Object.entries(CORPUS)) {
    it(name, async () => {
      const mail = await parse(fixture(name));
      expect(mail.verdict.kind).toBe(expected.verdict);
      if (expected.reason && mail.verdict.kind !== 'process')
        expect(mail.verdict.reason).toMatch(expected.reason);
      if (expected.sender) expect(mail.sender).toBe(expected.sender);
      if (expected.subject) expect(mail.subject).toBe(expected.subject);
      if (expected.externalId) expect(mail.externalId).toMatch(expected.externalId);
      for (const text of expected.contains ?? []) expect(mail.text).toContain(text);
      for (const text of expected.excludes ?? []) expect(mail.text).not.toContain(text);
      expect(mail.text.length).toBeLessThanOrEqual(20_000);
    });
  }

  it('multi-megabyte body: truncated within MAX_REQUEST_CHARS with a note', async () => {
    const body = Array.from(
      { length: 60_000 },
      (_, i) => `Строка длинного письма номер ${i} с подробностями.`,
    ).join('\r\n');
    const raw = Buffer.from(
      `From: big@example.test\r\nSubject: big\r\nMessage-ID: <big@x>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
    );
    expect(raw.length).toBeGreaterThan(2_000_000);
    const mail = await parse(raw);
    expect(mail.verdict.kind).toBe('process');
    expect(mail.truncated).toBe(true);
    expect(mail.text.length).toBeLessThanOrEqual(20_000);
    expect(mail.text).toMatch(/текст обрезан: показано \d+ из \d+ символов/);
  });

  const headersOnly = (extra: string) =>
    Buffer.from(
      `From: Client <client@example.test>\r\n${extra}Subject: q\r\nMessage-ID: <rt-${Math.random()}@x>\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\n\r\nВопрос по отчёту\r\n`,
    );

  it('when Reply-To names another mailbox, then the answer goes there; when it is ours or broken, then to From', async () => {
    expect((await parse(headersOnly('Reply-To: Team <team@example.test>\r\n'))).replyTo).toBe(
      'team@example.test',
    );
    expect((await parse(headersOnly('Reply-To: support@example.test\r\n'))).replyTo).toBe(
      'client@example.test',
    );
    expect((await parse(headersOnly('Reply-To: not an address\r\n'))).replyTo).toBe('client@example.test');
    expect((await parse(headersOnly(''))).replyTo).toBe('client@example.test');
  });

  it('when the sender asks for no automatic answers (X-Auto-Response-Suppress: All), then the mail is skipped', async () => {
    const suppressed = await parse(headersOnly('X-Auto-Response-Suppress: All\r\n'));
    expect(suppressed.verdict).toMatchObject({ kind: 'skip', reason: expect.stringMatching(/suppressed/) });
    const oofOnly = await parse(headersOnly('X-Auto-Response-Suppress: OOF\r\n'));
    expect(oofOnly.verdict.kind).toBe('process');
  });

  it('same raw message without Message-ID hashes to the same ledger key', async () => {
    const a = await parse(fixture('no-message-id.eml'));
    const b = await parse(fixture('no-message-id.eml'));
    expect(a.externalId).toBe(b.externalId);
  });
});

describe('text helpers', () => {
  it('keeps inline answers between quotes and content that merely mentions a sign-off', () => {
    const text =
      'Ответы ниже.\n> Какой период?\nДекабрь.\n> Какой регион?\nМосква.\n\nС уважением отношусь к вашей работе, но отчёт пустой.';
    const out = stripQuotedReply(text);
    expect(out).toContain('Декабрь.');
    expect(out).toContain('Москва.');
    expect(out).toContain('отчёт пустой');
    expect(out).not.toContain('Какой период');
  });

  it('splits in order at 4096 without losing characters', () => {
    const text = 'а'.repeat(10_000);
    const parts = splitMessage(text);
    expect(parts.map((p) => p.length)).toEqual([4096, 4096, 1808]);
    expect(parts.join('')).toBe(text);
  });

  it('never doubles Re:', () => {
    expect(replySubject('Вопрос')).toBe('Re: Вопрос');
    expect(replySubject('Re: Вопрос')).toBe('Re: Вопрос');
    expect(replySubject('RE[2]: Вопрос')).toBe('RE[2]: Вопрос');
    expect(replySubject('')).toBe('Re: ваше обращение');
  });
});
