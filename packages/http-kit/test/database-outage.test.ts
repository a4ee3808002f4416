import { createDatabase } from '@workemon/db';
import { CapturedLines, createLogger } from '@workemon/logger';
import { freePort } from '@workemon/testkit';
import { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { startTestApp } from './support/test-app.js';

describe('a database outage behind any route', () => {
  it('when a route’s query cannot reach PostgreSQL, then every service answers 503 with Retry-After, never 500', async () => {
    const logs = new CapturedLines();
    const logger = createLogger({ service: 'http-kit-test', version: '0.0.0', stream: logs });
    const database = createDatabase({
      url: `postgres://nobody:pw@127.0.0.1:${await freePort()}/none`,
      max: 1,
      logger,
      schema: {},
      connectionTimeoutMs: 1_000,
    });
    const routes = Router();
    // A repository that does not guard its queries itself (the error handler is the last line).
    routes.get('/rows', async (_req, res) => {
      const result = await database.pool.query('select 1');
      res.json(result.rows);
    });
    const app = await startTestApp(routes, logger);
    try {
      const res = await fetch(`${app.url}/rows`);
      const body = (await res.json()) as { message?: string; statusCode?: number };
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(body).toMatchObject({ statusCode: 503, message: 'the database is unavailable; retry later' });
    } finally {
      app.close();
      await database.close();
    }
  });
});
