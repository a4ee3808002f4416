import {
  InboundIdParamsSchema,
  InboundListQuerySchema,
  InboundPageSchema,
  InboundRetryResultSchema,
  SendMessageInputSchema,
  SendMessageResultSchema,
} from '@workemon/contracts';
import { createHttpApp, type HealthRegistry, type ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import express, { type Express, type Router } from 'express';
import type { InboundOperatorUseCases } from './domain/inbound-operator-use-cases.js';
import type { SendMessageUseCase } from './domain/send-message-use-case.js';
import { communicatorRoutes } from './http/routes.js';

export interface AppDeps {
  service: string;
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  health: HealthRegistry;
  authKeys: string[];
  sendMessage: SendMessageUseCase;
  inbound: InboundOperatorUseCases;
  /** Mounted ahead of bearer auth (Telegram authenticates with its own secret token). */
  telegramWebhook?: Router;
}

export function createApp(deps: AppDeps): Express {
  const app = createHttpApp({
    service: deps.service,
    version: deps.version,
    logger: deps.logger,
    metrics: deps.metrics,
    health: deps.health,
    authKeys: deps.authKeys,
    routes: communicatorRoutes({ sendMessage: deps.sendMessage, inbound: deps.inbound }),
    docs: {
      title: 'ai-communicator',
      description: 'Channels both ways: IMAP in, SMTP out, Telegram in/out, POST /send',
      routes: [
        {
          method: 'post',
          path: '/send',
          summary: 'Send a message by email or Telegram (idempotent by idempotency_key)',
          body: SendMessageInputSchema,
          output: SendMessageResultSchema,
          secured: true,
          statuses: [400, 409, 422, 502, 503],
        },
        {
          method: 'get',
          path: '/inbound',
          summary:
            'The ingest ledger, newest first (e.g. ?status=quarantined): what came in, its state and last error',
          input: InboundListQuerySchema,
          output: InboundPageSchema,
          secured: true,
          statuses: [400],
        },
        {
          method: 'post',
          path: '/inbound/{id}/retry',
          summary: 'Send a quarantined or skipped message through again (fresh attempts)',
          params: InboundIdParamsSchema,
          output: InboundRetryResultSchema,
          secured: true,
          statuses: [400, 404, 409],
        },
      ],
    },
  });
  if (!deps.telegramWebhook) return app;
  const outer = express();
  outer.disable('x-powered-by');
  outer.use(deps.telegramWebhook);
  outer.use(app);
  return outer;
}
