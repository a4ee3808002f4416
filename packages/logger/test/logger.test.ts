import { describe, expect, it } from 'vitest';
import { CapturedLines, CoalescingWriter, createLogger, redactText, runWithRequestId } from '../src/index.js';

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

  it('when the message holds printf-like tokens (a URL-encoded path), then the fields are still written', () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1', stream: out });
    logger.warn('GET /%d0%bf%s 404', { http: { response: { status_code: 404 } }, 'trace.id': 'r-9' });
    expect(out.records()[0]).toMatchObject({ http: { response: { status_code: 404 } }, 'trace.id': 'r-9' });
  });

  it('when a line is below the logger level, then nothing is written and its fields are never read', () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1', stream: out, level: 'info' });
    let reads = 0;
    const fields = {
      get detail() {
        reads++;
        return 'x';
      },
    };
    logger.debug('per-stage detail', fields);
    expect(out.lines).toEqual([]);
    expect(reads).toBe(0);
    expect(logger.isLevelEnabled('debug')).toBe(false);
  });

  it('when fields nest and repeat, then keys are sorted at every depth and a repeated object is [Circular]', () => {
    const out = new CapturedLines();
    const logger = createLogger({ service: 'ai-test', version: '1', stream: out });
    const loop: Record<string, unknown> = { b: 2, a: 1 };
    loop.self = loop;
    logger.info('shape', { zeta: { y: [loop], x: undefined }, alpha: 1, message: 'more', level: 'error' });
    expect(out.lines[0]).toMatch(
      /^\{"@timestamp":"[^"]+","alpha":1,"ecs\.version":"8\.10\.0","event\.dataset":"ai-test","log\.level":"info","message":"shape more","service\.name":"ai-test","service\.version":"1","zeta":\{"y":\[\{"a":1,"b":2,"self":"\[Circular\]"\}\]\}\}$/,
    );
  });

  it('when text contains a DSN password, then redactText masks only the password', () => {
    expect(redactText('postgres://app:s3cret@db/x')).toBe('postgres://app:[REDACTED]@db/x');
  });
});

describe('CoalescingWriter (stdout)', () => {
  it('when several lines are logged in one turn of the event loop, then they leave in one write, in order', async () => {
    const writes: string[] = [];
    const writer = new CoalescingWriter({ write: (chunk: string) => writes.push(chunk) });
    const logger = createLogger({ service: 'ai-test', version: '1', stream: writer });
    for (let i = 0; i < 5; i++) logger.info(`line ${i}`);
    expect(writes).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    const messages = writes[0]!
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(messages).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    logger.info('later');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(2);
  });

  it('when the process exits before the next turn, then the buffered lines are written synchronously', async () => {
    const { mkdtempSync, openSync, readFileSync, closeSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'wm-log-')), 'out.log');
    const fd = openSync(file, 'w');
    const writer = new CoalescingWriter({ write: () => undefined }, fd);
    writer.write('{"message":"last words"}\n');
    writer.flushSync(); // what process.once('exit') runs
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe('{"message":"last words"}\n');
  });

  it('when the pipe is full at exit (EAGAIN) or takes part of a write, then every buffered line is still written', () => {
    const written: Buffer[] = [];
    let calls = 0;
    const write = (_fd: number, buffer: Buffer, offset: number, length: number): number => {
      calls++;
      if (calls === 1)
        throw Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN' });
      const taken = calls === 2 ? Math.min(5, length) : length;
      written.push(Buffer.from(buffer.subarray(offset, offset + taken)));
      return taken;
    };
    const writer = new CoalescingWriter({ write: () => undefined }, 99, undefined, write);
    writer.write('{"message":"последние"}\n');
    writer.write('{"message":"words"}\n');
    writer.flushSync();
    expect(Buffer.concat(written).toString('utf8')).toBe('{"message":"последние"}\n{"message":"words"}\n');
    expect(calls).toBe(3);
  });

  it('when more than the buffer limit is pending, then it is written at once', () => {
    const writes: string[] = [];
    const writer = new CoalescingWriter({ write: (chunk: string) => writes.push(chunk) }, undefined, 10);
    writer.write('0123456789abc\n');
    expect(writes).toEqual(['0123456789abc\n']);
  });
});
