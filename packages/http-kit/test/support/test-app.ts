import type { Logger } from '@workemon/logger';
import type { Router } from 'express';
import { createHttpApp } from '../../src/app.js';
import { HealthRegistry } from '../../src/health.js';
import { createServiceMetrics } from '../../src/metrics.js';
import { boundPort, listen } from '../../src/server.js';

/** The shared HTTP app around a test's own routes, on a free loopback port. */
export async function startTestApp(
  routes: Router,
  logger: Logger,
): Promise<{ url: string; close: () => void }> {
  const metrics = createServiceMetrics('http-kit-test', '0.0.0');
  const app = createHttpApp({
    service: 'http-kit-test',
    version: '0.0.0',
    logger,
    metrics,
    health: new HealthRegistry('http-kit-test', '0.0.0', metrics),
    routes,
    docs: { title: 'test', routes: [] },
  });
  const server = await listen(app, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${boundPort(server)}`, close: () => server.close() };
}
