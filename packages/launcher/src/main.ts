import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { httpGet } from './http-get.js';
import { launchMesh } from './mesh.js';
import { PreflightError } from './preflight.js';

// `pnpm start` from the repository root: one command runs the whole mesh.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
if (existsSync(resolve(root, '.env'))) dotenv.config({ path: resolve(root, '.env'), quiet: true });

const log = (line: string) => process.stderr.write(`[launcher] ${line}\n`);

/** What the guesser's /health says about the LLM when it is not usable (undefined when it is). */
async function llmProblem(guesserUrl: string | undefined): Promise<string | undefined> {
  if (!guesserUrl) return undefined;
  try {
    const res = await httpGet(`${guesserUrl}/health`, 3000);
    const body = JSON.parse(res.body) as { checks?: Record<string, { status?: string; detail?: string }> };
    const llm = Object.entries(body.checks ?? {}).find(([name]) => name.startsWith('llm'))?.[1];
    if (llm && llm.status !== 'ok') return llm.detail ?? `LLM check is ${llm.status}`;
  } catch {
    // the guesser answered its readiness probe; a failed /health here only skips the hint
  }
  return undefined;
}

async function main(): Promise<void> {
  const mesh = await launchMesh({
    onFatal: (error) => {
      log(`stopped: ${error.message}`);
      process.exit(1);
    },
    root,
    env: process.env,
    basePort: Number(process.env.LAUNCHER_BASE_PORT ?? 8000),
    dataDir: process.env.LAUNCHER_DATA_DIR ?? '.data',
    pglitePort: Number(process.env.PGLITE_PORT ?? 0),
    log,
    output: process.stdout,
  });
  const secretary = mesh.urls.secretary;
  const llm = await llmProblem(mesh.urls.guesser);
  if (llm) {
    log(
      `Workemon is running, but the LLM is not configured, so /analyze-request answers 503: ${llm.replace(/^LLM is not configured: /, '')}`,
    );
    log(
      '  put LLM_PROVIDER and LLM_API_KEY in .env at the repository root (README: "Pointing it at an LLM") and restart',
    );
    if (secretary) log(`  open ${secretary}/docs   ·   ${secretary}/health   ·   ${secretary}/metrics`);
  } else if (secretary) {
    log('Workemon is running. Try:');
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
  // A preflight failure is one line that already says what to do.
  log(error instanceof PreflightError ? error.message : `failed to start: ${error.message}`);
  process.exit(1);
});
