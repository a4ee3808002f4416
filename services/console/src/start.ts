import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServiceMetrics, type RunningService, serve } from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { createApp, SERVICE_NAME } from './app.js';
import { CommunicatorClient } from './clients/communicator-client.js';
import { SecretaryClient } from './clients/secretary-client.js';
import type { Config } from './config.js';
import { createDatabase, type DatabaseHandle } from './data/db.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** What tests may replace; everything else comes from config. */
export interface StartOverrides {
  logger?: Logger;
  /** The built page; dist/page next to dist/start.js unless a test bundles its own. */
  pageDir?: string;
  clock?: () => Date;
}

export interface RunningConsole extends RunningService {
  database: DatabaseHandle;
}

export function serviceLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return createLogger({ service: SERVICE_NAME, version, level: config.LOG_LEVEL });
}

/** The console, wired and listening on config's HOST:PORT: main.ts and the tests both start it here. */
export async function startService(config: Config, overrides: StartOverrides = {}): Promise<RunningConsole> {
  const logger = overrides.logger ?? serviceLogger(config);
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
    // dist/start.js → dist/page (built by scripts/build-page.mjs).
    pageDir: overrides.pageDir ?? fileURLToPath(new URL('./page', import.meta.url)),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  });
  const service = await serve(app, {
    config,
    logger,
    metrics,
    closers: [
      { name: 'live updates', close: () => live.stop() },
      { name: 'secretary client', close: () => secretary.close() },
      { name: 'communicator client', close: () => communicator.close() },
      { name: 'postgres pool', close: () => database.close() },
    ],
  });
  logger.info(`console listening on ${service.url}`, { event: { action: 'start' } });
  return { ...service, database };
}
