import { createHttpApp, databaseHealthCheck, HealthRegistry, type ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import { Router, type Express } from 'express';
import helmet from 'helmet';
import type { CommunicatorClient } from './clients/communicator-client.js';
import type { SecretaryClient } from './clients/secretary-client.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './data/db.js';
import { FeedbackRepository } from './data/feedback-repository.js';
import { SessionRepository } from './data/session-repository.js';
import { FeedbackUseCases } from './domain/feedback-use-cases.js';
import { LiveFeed } from './domain/live-feed.js';
import { ReplyByHandUseCase } from './domain/reply-by-hand-use-case.js';
import { SessionUseCases } from './domain/sessions.js';
import { TypingPresence } from './domain/typing-presence.js';
import { apiRoutes } from './http/api-routes.js';
import { consoleRouteDocs } from './http/route-docs.js';
import { pageRoutes } from './http/page-routes.js';
import { createConsoleMetrics } from './metrics.js';

export const SERVICE_NAME = 'console';

export type AppConfig = Pick<
  Config,
  | 'OPERATORS'
  | 'SESSION_TTL'
  | 'LOGIN_MAX_FAILURES'
  | 'LOGIN_LOCKOUT'
  | 'TRUST_PROXY'
  | 'LIVE_POLL_INTERVAL_MS'
>;

export interface AppDeps {
  config: AppConfig;
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  database: DatabaseHandle;
  secretary: SecretaryClient;
  communicator: CommunicatorClient;
  /** The built page (index.html + assets/). */
  pageDir: string;
  clock?: () => Date;
}

export interface ConsoleApp {
  app: Express;
  live: LiveFeed;
}

/** Wires repositories, use cases, health checks and routes; main.ts and tests both call it. */
export function createApp(deps: AppDeps): ConsoleApp {
  const { config, logger, metrics, database, secretary, communicator } = deps;
  const consoleMetrics = createConsoleMetrics(metrics);
  const sessions = new SessionUseCases({
    operators: config.OPERATORS,
    repository: new SessionRepository(database.db),
    policy: {
      ttlMs: config.SESSION_TTL,
      maxFailures: config.LOGIN_MAX_FAILURES,
      lockoutMs: config.LOGIN_LOCKOUT,
    },
    metrics: { signIn: (outcome) => consoleMetrics.signIns.inc({ outcome }) },
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  const live = new LiveFeed({
    changes: () => secretary.changes(),
    intervalMs: config.LIVE_POLL_INTERVAL_MS,
    logger,
    onListeners: (count) => consoleMetrics.liveClients.set(count),
  });
  const typing = new TypingPresence({
    publish: (event) => live.publish(event),
    holdMs: 8000,
    throttleMs: 2000,
  });
  const replyByHand = new ReplyByHandUseCase({
    secretary,
    communicator,
    logger,
    onOutcome: (channel, outcome) => consoleMetrics.replies.inc({ channel, outcome }),
  });
  const feedback = new FeedbackUseCases({
    repository: new FeedbackRepository(database.db),
    secretary,
    onRecorded: (verdict) => consoleMetrics.feedback.inc({ verdict }),
  });

  const health = new HealthRegistry(SERVICE_NAME, deps.version, metrics)
    .register(databaseHealthCheck(database))
    .register({
      name: 'operators',
      run: () =>
        config.OPERATORS.length > 0
          ? { status: 'ok' }
          : { status: 'degraded', detail: 'no operators can sign in: set OPERATORS or OPERATORS_FILE' },
    })
    .register({ name: 'secretary', run: () => upstreamHealth(secretary.upstream.health()) })
    .register({ name: 'communicator', run: () => upstreamHealth(communicator.upstream.health()) });

  const routes = Router();
  routes.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ["'self'", 'data:'],
          'connect-src': ["'self'"],
          'frame-ancestors': ["'none'"],
          'form-action': ["'self'"],
          // Plain http on 127.0.0.1 must keep working; TLS is the proxy's business.
          'upgrade-insecure-requests': null,
        },
      },
      strictTransportSecurity: false,
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  routes.use(pageRoutes(deps.pageDir));
  routes.use(apiRoutes({ sessions, secretary, communicator, replyByHand, feedback, live, typing }));

  const app = createHttpApp({
    service: SERVICE_NAME,
    version: deps.version,
    logger,
    metrics,
    health,
    // The browser API authenticates by session cookie, not bearer keys.
    authKeys: [],
    bodyLimit: '256kb',
    routes,
    docs: {
      title: 'Workemon operator console',
      description: "Backend-for-frontend of the operators' web console (session cookie + X-CSRF-Token).",
      routes: consoleRouteDocs(),
    },
  });
  app.set('trust proxy', config.TRUST_PROXY);
  return { app, live };
}

async function upstreamHealth(
  ping: Promise<{ ok: boolean; status?: number; detail?: string }>,
): Promise<{ status: 'ok' | 'degraded'; detail?: string }> {
  const result = await ping;
  return result.ok
    ? { status: 'ok' }
    : { status: 'degraded', detail: result.detail ?? `HTTP ${result.status ?? '?'}` };
}
