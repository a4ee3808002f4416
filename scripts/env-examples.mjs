// `pnpm env:example`: writes services/<svc>/.env.example from each service's config schema (built dist/).
// test/env-examples.test.ts renders the same files from the sources and fails when they drift.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What each file is for; everything else comes from the schema. */
export const ENV_EXAMPLES = [
  {
    service: 'secretary',
    header: [
      'ai-secretary. Copy to services/secretary/.env (Docker) or put the lines you need in the root .env',
      '(pnpm start). Empty = default or disabled. docker-compose.yml already sets PORT, HOST, DATABASE_URL,',
      'SERVICE_TOKEN and the service URLs. Every variable is explained in docs/architecture.md and the README.',
    ],
  },
  {
    service: 'guesser',
    header: [
      'ai-guesser. Copy to services/guesser/.env (Docker) or put the lines you need in the root .env',
      '(pnpm start). Empty = default. docker-compose.yml already sets PORT, HOST and SERVICE_TOKEN.',
      'With no LLM_PROVIDER the service runs degraded and says so in /health.',
    ],
  },
  {
    service: 'system-analyst',
    header: [
      'ai-system-analyst. Copy to services/system-analyst/.env (Docker) or put the lines you need in the root',
      '.env (pnpm start). Empty = default. docker-compose.yml already sets PORT, HOST and SERVICE_TOKEN.',
      'With no LLM_PROVIDER the service runs degraded and says so in /health.',
    ],
  },
  {
    service: 'communicator',
    header: [
      'ai-communicator. Copy to services/communicator/.env (Docker) or put the lines you need in the root',
      '.env (pnpm start). A channel without credentials (IMAP_USER/IMAP_PASSWORD, TELEGRAM_BOT_TOKEN) is',
      'disabled. docker-compose.yml already sets PORT, HOST, DATABASE_URL, SERVICE_TOKEN and SECRETARY_URL.',
      'Yandex Mail: switch IMAP access on in the mailbox settings and use an app password.',
    ],
  },
  {
    service: 'console',
    header: [
      'Operator console. Copy to services/console/.env (Docker) or put the lines you need in the root .env',
      '(pnpm start creates a first admin when OPERATORS/OPERATORS_FILE are unset). docker-compose.yml already',
      'sets PORT, HOST, DATABASE_URL, SERVICE_TOKEN, the service URLs and OPERATORS_FILE. See docs/console.md;',
      "password hashes: printf '%s\\n' 'a password' | pnpm console:hash-password",
    ],
  },
];

export const envExamplePath = (service) => join(root, 'services', service, '.env.example');

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { renderEnvExample } = await import(pathToFileURL(join(root, 'packages/config/dist/index.js')).href);
  for (const { service, header } of ENV_EXAMPLES) {
    const { configSchema } = await import(
      pathToFileURL(join(root, 'services', service, 'dist/config.js')).href
    );
    writeFileSync(envExamplePath(service), renderEnvExample(configSchema, header));
    console.log(`wrote services/${service}/.env.example`);
  }
}
