import { loadConfig, z } from '@workemon/config';
import { runMigrations } from './data/migrate.js';

/** `node dist/migrate.js`: applies the console's migrations and exits. */
const { DATABASE_URL } = loadConfig(
  z.object({ DATABASE_URL: z.string().min(1, 'is required (postgres://…)') }),
);
try {
  await runMigrations(DATABASE_URL);
  process.stdout.write('console: migrations applied\n');
} catch (error) {
  process.stderr.write(`console: migration failed: ${(error as Error).message}\n`);
  process.exit(1);
}
