import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { loadConfig } from '@workemon/config';
import {
  createServiceMetrics,
  exitOnStartupError,
  installGracefulShutdown,
  listen,
  warnWhenAuthDisabled,
} from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { createApp, SERVICE_NAME } from './app.js';
import { GuesserClient } from './clients/guesser-client.js';
import { SystemAnalystClient } from './clients/system-analyst-client.js';
import { configSchema } from './config.js';
import { createDatabase } from './data/db.js';
import { UserRepository } from './data/user-repository.js';
import { createExchanges } from './exchanges.js';
import { createFollowUps } from './follow-ups.js';
import { createKnowledge } from './knowledge.js';
import { UserDirectoryUseCases } from './domain/user-directory-use-cases.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let logger: Logger | undefined;
try {
  const config = loadConfig(configSchema);
  logger = createLogger({ service: SERVICE_NAME, version, level: config.LOG_LEVEL });
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
  const instanceId = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const exchanges = createExchanges(config, database, metrics, logger, instanceId);
  const followUps = createFollowUps(config, database, upstream, metrics, logger, { owner: instanceId });
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
  });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info(`secretary listening on ${config.HOST}:${config.PORT}`, { event: { action: 'start' } });
  // Heartbeats, and the sweep that finishes exchanges a dead process left pending.
  exchanges.start();
  // Also picks up follow-ups a previous process stored but did not finish.
  followUps.worker?.start();
  // In the background: readiness does not wait for it, and a failed sync is logged, never fatal.
  const startupLogger = logger;
  void knowledge.useCases.syncDirectory(knowledge.directory).catch(async (error: unknown) => {
    startupLogger.error(`knowledge sync of ${knowledge.directory} failed: ${(error as Error).message}`, {
      err: error as Error,
      event: { action: 'knowledge-sync', outcome: 'failure' },
    });
    await knowledge.useCases.refreshGauge().catch(() => undefined);
  });
  installGracefulShutdown({
    server,
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'guesser client', close: () => guesser.close() },
      { name: 'system-analyst client', close: () => analyst.close() },
      { name: 'follow-ups (jira, escalations)', close: followUps.close },
      { name: 'exchange heartbeats', close: exchanges.close },
      { name: 'postgres pool', close: () => database.close() },
    ],
  });
} catch (error) {
  exitOnStartupError(error, logger);
}
