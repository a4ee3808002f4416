import {
  createHttpApp,
  databaseHealthCheck,
  HealthRegistry,
  KeyedRateLimiter,
  type ServiceMetrics,
} from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import { Router } from 'express';
import type { Express } from 'express';
import { createAnalysisMetrics } from './analysis-metrics.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './data/db.js';
import { UserRepository } from './data/user-repository.js';
import { AnalyzeRequestUseCase } from './domain/analyze-request-use-case.js';
import { ListHistoryUseCase } from './domain/list-history-use-case.js';
import type { Exchanges } from './exchanges.js';
import type { FollowUps } from './follow-ups.js';
import { createKnowledge, type Knowledge } from './knowledge.js';
import { knowledgeRoutes } from './http/knowledge-routes.js';
import { KnowledgeGrounding } from './domain/knowledge-grounding.js';
import type { Clock, FollowUpKind } from './domain/ports.js';
import { UserDirectoryUseCases } from './domain/user-directory-use-cases.js';
import type { GuesserClient } from './clients/guesser-client.js';
import type { SystemAnalystClient } from './clients/system-analyst-client.js';
import { analyzeRequestRoutes } from './http/analyze-request-routes.js';
import { historyRoutes } from './http/history-routes.js';
import { secretaryRouteDocs } from './http/route-docs.js';
import { usersRoutes } from './http/users-routes.js';
import { OperatorRepository } from './data/operator-repository.js';
import { OperatorUseCases } from './domain/operator-use-cases.js';
import { operatorRouteDocs } from './http/operator-route-docs.js';
import { operatorRoutes } from './http/operator-routes.js';
import { registerOperatorMetrics } from './operator-metrics.js';

export const SERVICE_NAME = 'ai-secretary';

export type AppConfig = Pick<
  Config,
  | 'API_KEYS'
  | 'ADMIN_API_KEYS'
  | 'SERVICE_TOKEN'
  | 'RATE_LIMIT_PER_KEY_PER_MINUTE'
  | 'RATE_LIMIT_PER_USER_PER_MINUTE'
  | 'UPSTREAM_TIMEOUT_MS'
  | 'CLARIFICATION_TTL'
  | 'MAX_CLARIFICATIONS'
  | 'MAX_REQUEST_CHARS'
  | 'ANALYZE_MAX_IN_FLIGHT'
  | 'KNOWLEDGE_DIR'
  | 'KNOWLEDGE_MAX_DOCUMENT_CHARS'
  | 'KNOWLEDGE_MIN_SCORE'
  | 'KNOWLEDGE_PASSAGES'
>;

export interface AppDeps {
  config: AppConfig;
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  database: DatabaseHandle;
  /** The exchange ledger with its owner, heartbeats and take-overs (see exchanges.ts). */
  exchanges: Exchanges;
  guesser: GuesserClient;
  analyst: SystemAnalystClient;
  /** Jira issues and escalations to the support chat, done after the exchange (see follow-ups.ts). */
  followUps?: FollowUps;
  /** The knowledge base; built from config and database when absent (tests). */
  knowledge?: Knowledge;
  clock?: Clock;
}

/** Wires repositories, use cases, health checks and routes; main.ts and tests both call it. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, metrics, database } = deps;
  const exchanges = deps.exchanges.repository;
  const userRepository = new UserRepository(database.db);
  const operators = new OperatorRepository(database.db);
  registerOperatorMetrics(metrics.registry, operators);
  const upstreamBudget = 2 * config.UPSTREAM_TIMEOUT_MS;
  const followUpWorker = deps.followUps?.worker;
  const knowledge = deps.knowledge ?? createKnowledge(config, database, metrics, logger);
  const grounding = new KnowledgeGrounding(knowledge.retriever, config.KNOWLEDGE_PASSAGES);
  const analyze = new AnalyzeRequestUseCase({
    store: exchanges,
    requesters: exchanges,
    operatorHold: operators,
    guesser: deps.guesser,
    analyst: deps.analyst,
    metrics: createAnalysisMetrics(metrics.registry),
    logger,
    ownership: deps.exchanges.ownership,
    policy: {
      maxRequestChars: config.MAX_REQUEST_CHARS,
      clarificationTtlMs: config.CLARIFICATION_TTL,
      maxClarifications: config.MAX_CLARIFICATIONS,
      // A duplicate waits as long as the first attempt can legitimately take (guesser + analyst),
      // and at least until a silent owner counts as dead (then it takes over).
      duplicateWaitMs: Math.max(upstreamBudget, deps.exchanges.ownership.timeouts.silentMs) + 5_000,
    },
    ...(followUpWorker && deps.followUps
      ? { followUps: { ...deps.followUps.policy, kick: () => followUpWorker.kick() } }
      : {}),
    knowledge: {
      // `seen` passed on: the generation read with the requester spares the search a round trip.
      ground: (request, context, seen) => grounding.ground(request, context, seen),
      answered: knowledge.answered,
    },
    ...(deps.clock ? { clock: deps.clock } : {}),
  });

  const health = new HealthRegistry(SERVICE_NAME, deps.version, metrics)
    .register(databaseHealthCheck(database))
    .register({ name: 'guesser', run: () => deps.guesser.health() })
    .register({ name: 'system-analyst', run: () => deps.analyst.health() });
  // One check per follow-up kind: disabled until configured, degraded while its last attempt failed.
  const followUpChecks: [string, FollowUpKind, string][] = [
    ['jira', 'jira-task', 'JIRA_BASE_URL is not set'],
    ['escalation', 'escalation', 'ESCALATION_TELEGRAM_CHAT_ID is not set'],
    ['department-mail', 'department-mail', 'DEPARTMENT_MAILING_LISTS is not set'],
  ];
  for (const [name, kind, unset] of followUpChecks)
    health.register({
      name,
      run: () =>
        followUpWorker?.handles(kind) ? followUpWorker.health(kind) : { status: 'disabled', detail: unset },
    });

  const routes = Router();
  routes.use(
    analyzeRequestRoutes(analyze, {
      maxInFlight: config.ANALYZE_MAX_IN_FLIGHT,
      perUser: new KeyedRateLimiter(
        { points: config.RATE_LIMIT_PER_USER_PER_MINUTE, windowSeconds: 60 },
        'per person (channel and username)',
      ),
    }),
  );
  routes.use(historyRoutes(new ListHistoryUseCase(exchanges)));
  routes.use(usersRoutes(new UserDirectoryUseCases(userRepository)));
  routes.use(knowledgeRoutes(knowledge.useCases));
  routes.use(
    operatorRoutes(new OperatorUseCases(operators), {
      serviceToken: config.SERVICE_TOKEN,
      clientKeys: config.API_KEYS,
    }),
  );

  const serviceKeys = config.SERVICE_TOKEN ? [config.SERVICE_TOKEN] : [];
  const secured = config.API_KEYS.length + config.ADMIN_API_KEYS.length + serviceKeys.length > 0;
  // Cyrillic text percent-encodes to up to 9 URL characters per character; a JSON body to ~6 bytes.
  const maxUrlLength = Math.max(64 * 1024, config.MAX_REQUEST_CHARS * 9 + 4096);
  const bodyLimitBytes = Math.max(1024 * 1024, config.MAX_REQUEST_CHARS * 6 + 64 * 1024);
  return createHttpApp({
    service: SERVICE_NAME,
    version: deps.version,
    logger,
    metrics,
    health,
    authKeys: config.API_KEYS,
    serviceKeys,
    adminKeys: config.ADMIN_API_KEYS,
    perKeyRateLimit: { points: config.RATE_LIMIT_PER_KEY_PER_MINUTE, windowSeconds: 60 },
    bodyLimit: `${bodyLimitBytes}b`,
    maxUrlLength,
    routes,
    docs: {
      title: 'Workemon AI-Secretary',
      description: 'Orchestration: history, conversations, user directory and the action decision.',
      routes: [...secretaryRouteDocs(secured), ...operatorRouteDocs(secured)],
    },
  });
}
