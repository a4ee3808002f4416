import { loadConfig, z } from '@workemon/config';
import { runMigrations } from './data/migrate.js';

/** `node dist/migrate.js`: applies the communicator's migrations and exits. */
const { DATABASE_URL } = loadConfig(
  z.object({ DATABASE_URL: z.string().min(1, 'is required (postgres://…)') }),
);
try {
  await runMigrations(DATABASE_URL);
  process.stdout.write('communicator: migrations applied\n');
} catch (error) {
  process.stderr.write(`communicator: migration failed: ${(error as Error).message}\n`);
  process.exit(1);
}
