import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServiceMetrics, type RunningService, serve, warnWhenAuthDisabled } from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { createApp, SERVICE_NAME } from './app.js';
import { GuesserClient } from './clients/guesser-client.js';
import { SystemAnalystClient } from './clients/system-analyst-client.js';
import type { Config } from './config.js';
import { createDatabase, type DatabaseHandle } from './data/db.js';
import { UserRepository } from './data/user-repository.js';
import type { FollowUpWorkerOptions } from './domain/follow-up-worker.js';
import type { Clock } from './domain/ports.js';
import { UserDirectoryUseCases } from './domain/user-directory-use-cases.js';
import { createExchanges, type Exchanges } from './exchanges.js';
import { createFollowUps, type FollowUps } from './follow-ups.js';
import { createKnowledge, type Knowledge } from './knowledge.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** What tests may replace; everything else comes from config. */
export interface StartOverrides {
  logger?: Logger;
  clock?: Clock;
  /** Follow-up worker timings (tests shorten retries and sweeps). */
  followUps?: Partial<FollowUpWorkerOptions>;
  /** Sync the knowledge directory in the background at start (default true; tests that own the documents turn it off). */
  syncKnowledge?: boolean;
}

export interface RunningSecretary extends RunningService {
  version: string;
  database: DatabaseHandle;
  exchanges: Exchanges;
  followUps: FollowUps;
  knowledge: Knowledge;
  /** This instance's owner id, recorded on the exchanges and follow-ups it works on. */
  owner: string;
}

export function serviceLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return createLogger({ service: SERVICE_NAME, version, level: config.LOG_LEVEL });
}

/** The secretary, wired and listening on config's HOST:PORT: main.ts and the tests both start it here. */
export async function startService(
  config: Config,
  overrides: StartOverrides = {},
): Promise<RunningSecretary> {
  const logger = overrides.logger ?? serviceLogger(config);
  warnWhenAuthDisabled(config, logger);
  if (config.MIGRATE_ON_START) {
    // Loaded only when asked for: the migrator is not needed by a running service.
    const { runMigrations } = await import('./data/migrate.js');
    await runMigrations(config.DATABASE_URL);
    logger.info('migrations applied', { event: { action: 'migrate' } });
  }
  const database = createDatabase({
    url: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    logger,
    connectionTimeoutMs: config.DATABASE_ACQUIRE_TIMEOUT_MS,
  });
  const metrics = createServiceMetrics(SERVICE_NAME, version);
  const upstream = { timeoutMs: config.UPSTREAM_TIMEOUT_MS, serviceToken: config.SERVICE_TOKEN, metrics };
  const guesser = new GuesserClient({ baseURL: config.GUESSER_URL, ...upstream });
  const analyst = new SystemAnalystClient({ baseURL: config.SYSTEM_ANALYST_URL, ...upstream });
  // Recorded as the owner of the work this process does (exchanges, follow-ups): unique per process.
  const owner = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const exchanges = createExchanges(config, database, metrics, logger, owner);
  const followUps = createFollowUps(config, database, upstream, metrics, logger, {
    owner,
    ...overrides.followUps,
  });
  const knowledge = createKnowledge(config, database, metrics, logger);

  if (config.USER_DIRECTORY_FILE) {
    const { upserted } = await new UserDirectoryUseCases(new UserRepository(database.db)).importFile(
      config.USER_DIRECTORY_FILE,
    );
    logger.info(`user directory loaded: ${upserted} users from ${config.USER_DIRECTORY_FILE}`, {
      event: { action: 'user-directory-import' },
    });
  }

  const app = createApp({
    config,
    version,
    logger,
    metrics,
    database,
    exchanges,
    guesser,
    analyst,
    followUps,
    knowledge,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  });
  const service = await serve(app, {
    config,
    logger,
    metrics,
    closers: [
      { name: 'guesser client', close: () => guesser.close() },
      { name: 'system-analyst client', close: () => analyst.close() },
      { name: 'follow-ups (jira, escalations)', close: followUps.close },
      { name: 'exchange heartbeats', close: exchanges.close },
      { name: 'postgres pool', close: () => database.close() },
    ],
  });
  logger.info(`secretary listening on ${service.url}`, { event: { action: 'start' } });
  // Heartbeats, and the sweep that finishes exchanges a dead process left pending.
  exchanges.start();
  // Also picks up follow-ups a previous process stored but did not finish.
  followUps.worker?.start();
  if (overrides.syncKnowledge ?? true) {
    // In the background: readiness does not wait for it, and a failed sync is logged, never fatal.
    void knowledge.useCases.syncDirectory(knowledge.directory).catch(async (error: unknown) => {
      logger.error(`knowledge sync of ${knowledge.directory} failed: ${(error as Error).message}`, {
        err: error as Error,
        event: { action: 'knowledge-sync', outcome: 'failure' },
      });
      await knowledge.useCases.refreshGauge().catch(() => undefined);
    });
  }
  return { ...service, version, database, exchanges, followUps, knowledge, owner };
}
