import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { SERVICES } from './mesh.js';

// `pnpm migrate`: apply every service's migrations to DATABASE_URL (or the embedded database).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
if (existsSync(resolve(root, '.env'))) dotenv.config({ path: resolve(root, '.env'), quiet: true });

const embedded = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedPostgres(resolve(root, process.env.LAUNCHER_DATA_DIR ?? '.data', 'pglite'), 0);
const databaseUrl = process.env.DATABASE_URL ?? embedded?.url ?? '';
let failed = false;
for (const s of SERVICES) {
  const script = join(root, s.dir, 'dist/migrate.js');
  if (!existsSync(script)) continue;
  const result = spawnSync(process.execPath, [script], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'inherit',
  });
  console.error(`[migrate] ${s.name}: ${result.status === 0 ? 'ok' : `failed (exit ${result.status})`}`);
  failed ||= result.status !== 0;
}
await embedded?.stop();
process.exit(failed ? 1 : 0);
