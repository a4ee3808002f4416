import { CapturedLines, createLogger } from '@workemon/logger';
import { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { startTestApp } from './support/test-app.js';

/** What drizzle throws when a query fails: its message carries every parameter value. */
class FakeDrizzleQueryError extends Error {
  constructor(
    readonly query: string,
    readonly params: unknown[],
  ) {
    super(`Failed query: ${query}\nparams: ${params.join(',')}`);
  }
}

describe('error log lines', () => {
  it('when a route fails with a database query error, then the client gets a generic 500 and the log keeps the SQL but no parameter value', async () => {
    const logs = new CapturedLines();
    const logger = createLogger({ service: 'http-kit-test', version: '0.0.0', stream: logs });
    const routes = Router();
    routes.get('/boom', () => {
      throw new FakeDrizzleQueryError('insert into "inbound" ("text", "username") values ($1, $2)', [
        'Мой паспорт 4509 123456',
        'alice',
      ]);
    });
    const app = await startTestApp(routes, logger);
    try {
      const res = await fetch(`${app.url}/boom`);
      const body = await res.text();
      expect(res.status).toBe(500);
      expect(body).not.toContain('4509');
      expect(body).not.toContain('insert into');
      const lines = logs.lines.join('\n');
      expect(lines).toContain('insert into');
      expect(lines).toContain('query parameters omitted');
      expect(lines).not.toContain('4509');
      expect(lines).not.toContain('alice');
    } finally {
      app.close();
    }
  });
});
