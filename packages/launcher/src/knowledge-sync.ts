import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { startEmbeddedPostgres } from './embedded-postgres.js';

// `pnpm knowledge:sync [dir]`: synchronise a knowledge directory (default KNOWLEDGE_DIR, else the example
// pack) into DATABASE_URL, or into the embedded database when DATABASE_URL is unset (stop `pnpm start` first:
// the embedded database has one owner). Exit code 1 when any file failed.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
if (existsSync(resolve(root, '.env'))) dotenv.config({ path: resolve(root, '.env'), quiet: true });

const script = join(root, 'services/secretary/dist/knowledge-sync.js');
const embedded = process.env.DATABASE_URL
  ? undefined
  : await startEmbeddedPostgres(resolve(root, process.env.LAUNCHER_DATA_DIR ?? '.data', 'pglite'), 0);
const databaseUrl = process.env.DATABASE_URL ?? embedded?.url ?? '';
const env = { ...process.env, DATABASE_URL: databaseUrl };
// The knowledge schema may not exist yet on a fresh database: migrations are idempotent.
const migrated = await run([join(root, 'services/secretary/dist/migrate.js')]);
const dir = process.argv[2];
const status =
  migrated !== 0
    ? migrated
    : await run([script, ...(dir ? [resolve(process.env.INIT_CWD ?? process.cwd(), dir)] : [])]);
await embedded?.stop();
process.exit(status);

/** Async on purpose: the embedded database is served from this very process, which must keep running. */
function run(args: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { env, stdio: 'inherit' });
    child.on('exit', (code) => done(code ?? 1));
    child.on('error', () => done(1));
  });
}
