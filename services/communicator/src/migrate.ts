import { readFileSync } from 'node:fs';
import { loadConfig, z } from '@workemon/config';
import { createLogger } from '@workemon/logger';
import { runMigrations } from './data/migrate.js';

/** `node dist/migrate.js`: applies the communicator's migrations and exits; its lines are ECS JSON like the service's. */
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const logger = createLogger({ service: 'ai-communicator', version });
try {
  const { DATABASE_URL } = loadConfig(
    z.object({ DATABASE_URL: z.string().min(1, 'is required (postgres://…)') }),
  );
  await runMigrations(DATABASE_URL);
  logger.info('communicator: migrations applied', { event: { action: 'migrate', outcome: 'success' } });
} catch (error) {
  logger.error(`communicator: migration failed: ${(error as Error).message}`, {
    event: { action: 'migrate', outcome: 'failure' },
  });
  process.exitCode = 1;
}
