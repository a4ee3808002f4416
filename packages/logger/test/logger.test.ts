import { describe, expect, it } from 'vitest';
import { CapturedLines, createLogger, redactText, runWithRequestId } from '../src/index.js';

describe('logger', () => {
  it('when a line is logged inside a request context, then it is ECS JSON with service fields and trace.id', () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1.2.3', stream: out });
    runWithRequestId('req-42', () => logger.info('hello', { event: { action: 'greet' } }));
    const [line] = out.records();
    expect(line).toMatchObject({
      message: 'hello',
      'log.level': 'info',
      'service.name': 'ai-test',
      'service.version': '1.2.3',
      'trace.id': 'req-42',
      event: { action: 'greet' },
    });
    expect(line!['@timestamp']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(line!['ecs.version']).toEqual(expect.any(String));
  });

  it("when a failed query's message is logged, then the SQL stays and its parameter values never reach the output", () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1', stream: out });
    const failed =
      'Failed query: insert into "inbound" ("text") values ($1, $2)\nparams: Мой паспорт\n4509 123456,alice';
    logger.warn(`ledger claim failed: ${failed}`, { detail: failed });
    const line = out.lines.join('\n');
    expect(line).toContain('insert into');
    expect(line).toContain('query parameters omitted');
    for (const leak of ['4509', 'alice', 'паспорт']) expect(line).not.toContain(leak);
  });

  it('when secrets are passed in fields or text, then they never reach the output', () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1', stream: out });
    logger.warn('calling https://api.telegram.org/bot123456:AAE-secret_Token/getMe with Bearer abc.def.ghi', {
      headers: { authorization: 'Bearer top-secret', 'x-request-id': 'r1' },
      config: {
        IMAP_PASSWORD: 'hunter2',
        LLM_API_KEY: 'sk-live-1',
        DATABASE_URL: 'postgres://user:pa55@db:5432/x',
      },
    });
    const text = out.lines.join('\n');
    for (const secret of ['top-secret', 'hunter2', 'sk-live-1', 'pa55', 'AAE-secret_Token', 'abc.def.ghi']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('r1');
  });

  it('when an error is logged, then it is rendered as ECS error fields', () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1', stream: out });
    logger.error('boom', { err: new TypeError('bad thing') });
    const [line] = out.records();
    expect(line!.error).toMatchObject({ type: 'TypeError', message: 'bad thing' });
    expect((line!.error as { stack_trace: string }).stack_trace).toContain('TypeError');
  });

  it('when text contains a DSN password, then redactText masks only the password', () => {
    expect(redactText('postgres://app:s3cret@db/x')).toBe('postgres://app:[REDACTED]@db/x');
  });
});
