import { loadConfig } from '@workemon/config';
import { configSchema } from './config.js';
import { runMigrations } from './data/migrate.js';

// `node dist/migrate.js`: applies the secretary migrations to DATABASE_URL and exits.
try {
  const { DATABASE_URL } = loadConfig(configSchema.pick({ DATABASE_URL: true }));
  await runMigrations(DATABASE_URL);
  process.stdout.write(
    `${JSON.stringify({ 'log.level': 'info', message: 'secretary migrations applied' })}\n`,
  );
} catch (error) {
  process.stderr.write(`secretary migrations failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
