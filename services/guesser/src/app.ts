import { createHttpApp, type HealthRegistry, type ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import type { Express } from 'express';
import type { GetContextDeps } from './domain/get-context-use-case.js';
import { getContextDocs, getContextRoutes } from './http/get-context-routes.js';

export interface AppDeps extends GetContextDeps {
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  health: HealthRegistry;
  authKeys: string[];
}

export const SERVICE_NAME = 'ai-guesser';

export function createApp(deps: AppDeps): Express {
  return createHttpApp({
    service: SERVICE_NAME,
    version: deps.version,
    logger: deps.logger,
    metrics: deps.metrics,
    health: deps.health,
    authKeys: deps.authKeys,
    bodyLimit: '512kb',
    routes: getContextRoutes(deps),
    docs: {
      title: 'AI-Guesser API',
      description: 'Is there enough context in a support request?',
      routes: getContextDocs,
    },
  });
}
