import { loadConfig, z } from '@workemon/config';
import { configSchema } from './config.js';
import { runMigrations } from './data/migrate.js';

// `node dist/migrate.js`: applies the secretary migrations to DATABASE_URL and exits.
try {
  // Only the URL: the migration job has none of the service's other settings.
  const { DATABASE_URL } = loadConfig(z.object({ DATABASE_URL: configSchema.shape.DATABASE_URL }));
  await runMigrations(DATABASE_URL);
  process.stdout.write(
    `${JSON.stringify({ 'log.level': 'info', message: 'secretary migrations applied' })}\n`,
  );
} catch (error) {
  process.stderr.write(`secretary migrations failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
