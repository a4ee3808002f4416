import type { ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import type { Config } from './config.js';
import type { DatabaseHandle } from './data/db.js';
import { ExchangeRepository } from './data/exchange-repository.js';
import { PgExchangeSettledFeed } from './data/exchange-settled-feed.js';
import { ExchangeOwnership } from './domain/exchange-ownership.js';
import { createExchangeMetrics } from './exchange-metrics.js';

export type ExchangesConfig = Pick<
  Config,
  'DATABASE_URL' | 'UPSTREAM_TIMEOUT_MS' | 'HEARTBEAT_INTERVAL_MS' | 'OWNER_TIMEOUT_MS'
>;

export interface Exchanges {
  repository: ExchangeRepository;
  ownership: ExchangeOwnership;
  /** Starts heartbeats, the sweep of abandoned exchanges and the settled feed. */
  start(): void;
  close(): Promise<void>;
}

/**
 * The exchange ledger and its crash safety: `owner` is this instance's id (recorded on every
 * pending exchange it analyses, heartbeated while it works).
 */
export function createExchanges(
  config: ExchangesConfig,
  database: DatabaseHandle,
  metrics: ServiceMetrics,
  logger: Logger,
  owner: string,
): Exchanges {
  const repository = new ExchangeRepository(database.db);
  const exchangeMetrics = createExchangeMetrics(metrics.registry, () => repository.pendingStats());
  const ownership = new ExchangeOwnership({
    store: repository,
    feed: new PgExchangeSettledFeed({ url: config.DATABASE_URL, logger }),
    metrics: exchangeMetrics,
    logger,
    options: {
      owner,
      heartbeatMs: config.HEARTBEAT_INTERVAL_MS,
      timeouts: {
        silentMs: config.OWNER_TIMEOUT_MS,
        // Even a beating owner cannot legitimately take longer than both LLM stages plus slack.
        maxAgeMs: 2 * config.UPSTREAM_TIMEOUT_MS + 30_000,
      },
      recheckMs: Math.min(1_000, config.HEARTBEAT_INTERVAL_MS),
    },
  });
  return {
    repository,
    ownership,
    start: () => ownership.start(),
    close: () => ownership.stop(),
  };
}
