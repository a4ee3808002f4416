import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@workemon/config';
import {
  createServiceMetrics,
  exitOnStartupError,
  installGracefulShutdown,
  listen,
} from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { createApp, SERVICE_NAME } from './app.js';
import { CommunicatorClient } from './clients/communicator-client.js';
import { SecretaryClient } from './clients/secretary-client.js';
import { configSchema } from './config.js';
import { createDatabase } from './data/db.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let logger: Logger | undefined;
try {
  const config = loadConfig(configSchema);
  logger = createLogger({ service: SERVICE_NAME, version, level: config.LOG_LEVEL });
  if (config.MIGRATE_ON_START) {
    const { runMigrations } = await import('./data/migrate.js');
    await runMigrations(config.DATABASE_URL);
    logger.info('migrations applied', { event: { action: 'migrate' } });
  }
  const database = createDatabase(config.DATABASE_URL, logger, config.DATABASE_POOL_MAX);
  const metrics = createServiceMetrics(SERVICE_NAME, version);
  const upstream = { timeoutMs: config.UPSTREAM_TIMEOUT_MS, serviceToken: config.SERVICE_TOKEN, metrics };
  const secretary = new SecretaryClient({ baseURL: config.SECRETARY_URL, ...upstream });
  const communicator = new CommunicatorClient({ baseURL: config.COMMUNICATOR_URL, ...upstream });
  const { app, live } = createApp({
    config,
    version,
    logger,
    metrics,
    database,
    secretary,
    communicator,
    // dist/main.js → dist/page (built by scripts/build-page.mjs).
    pageDir: fileURLToPath(new URL('./page', import.meta.url)),
  });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info(`console listening on ${config.HOST}:${config.PORT}`, { event: { action: 'start' } });
  installGracefulShutdown({
    server,
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      { name: 'live updates', close: () => live.stop() },
      { name: 'secretary client', close: () => secretary.close() },
      { name: 'communicator client', close: () => communicator.close() },
      { name: 'postgres pool', close: () => database.close() },
    ],
  });
} catch (error) {
  exitOnStartupError(error, logger);
}
