import { readFileSync } from 'node:fs';
import { loadConfig, z } from '@workemon/config';
import { createLogger } from '@workemon/logger';
import { configSchema } from './config.js';
import { runMigrations } from './data/migrate.js';

// `node dist/migrate.js`: applies the secretary migrations to DATABASE_URL and exits (ECS JSON lines).
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const logger = createLogger({ service: 'ai-secretary', version });
try {
  // Only the URL: the migration job has none of the service's other settings.
  const { DATABASE_URL } = loadConfig(z.object({ DATABASE_URL: configSchema.shape.DATABASE_URL }));
  await runMigrations(DATABASE_URL);
  logger.info('secretary migrations applied', { event: { action: 'migrate', outcome: 'success' } });
} catch (error) {
  logger.error(`secretary migrations failed: ${(error as Error).message}`, {
    event: { action: 'migrate', outcome: 'failure' },
  });
  process.exitCode = 1;
}
