import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { launchMesh } from './mesh.js';

// `pnpm start` from the repository root: one command runs the whole mesh.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
if (existsSync(resolve(root, '.env'))) dotenv.config({ path: resolve(root, '.env'), quiet: true });

const log = (line: string) => process.stderr.write(`[launcher] ${line}\n`);

async function main(): Promise<void> {
  const mesh = await launchMesh({
    root,
    env: process.env,
    basePort: Number(process.env.LAUNCHER_BASE_PORT ?? 8000),
    dataDir: process.env.LAUNCHER_DATA_DIR ?? '.data',
    pglitePort: Number(process.env.PGLITE_PORT ?? 0),
    log,
    output: process.stdout,
  });
  const secretary = mesh.urls.secretary;
  log('Workemon is running. Try:');
  if (secretary) {
    log(
      `  curl -s -H "Authorization: Bearer $(cat ${process.env.LAUNCHER_DATA_DIR ?? '.data'}/api-key)" "${secretary}/analyze-request?channel=direct&username=smirnovanton&request=$(node -p 'encodeURIComponent(\`Хочу аналитику по операциям кошельков\`)')"`,
    );
    log(`  open ${secretary}/docs   ·   ${secretary}/health   ·   ${secretary}/metrics`);
  }
  const consoleUrl = mesh.urls.console;
  if (consoleUrl) {
    log(`Operator console: open ${consoleUrl}`);
    if (mesh.consoleAdmin)
      log(
        `  sign in as '${mesh.consoleAdmin.name}' with the password in ${mesh.consoleAdmin.passwordFile} (cat it); add operators with OPERATORS_FILE (see docs/console.md)`,
      );
  }
  log('Press Ctrl-C to stop.');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping services…`);
    mesh
      .stop()
      .then(() => {
        log('stopped cleanly');
        process.exit(0);
      })
      .catch((error: Error) => {
        log(`stop failed: ${error.message}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: Error) => {
  log(`failed to start: ${error.message}`);
  process.exit(1);
});
