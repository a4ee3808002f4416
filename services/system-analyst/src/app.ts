import { createHttpApp, type HealthRegistry, type ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import type { Express } from 'express';
import type { PrepareAnalyticsDeps } from './domain/prepare-analytics-use-case.js';
import { prepareAnalyticsDocs, prepareAnalyticsRoutes } from './http/prepare-analytics-routes.js';

export interface AppDeps extends PrepareAnalyticsDeps {
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  health: HealthRegistry;
  authKeys: string[];
}

export const SERVICE_NAME = 'ai-systemanalitic';

export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    service: SERVICE_NAME,
    version: deps.version,
    logger: deps.logger,
    metrics: deps.metrics,
    health: deps.health,
    authKeys: deps.authKeys,
    bodyLimit: '512kb',
    routes: prepareAnalyticsRoutes(deps),
    docs: {
      title: 'AI-SystemAnalitic API',
      description: 'Which components and operations answer a support request',
      routes: prepareAnalyticsDocs,
    },
  });
}
