import { loadConfig } from '@workemon/config';
import {
  exitOnStartupError,
  installGracefulShutdown,
  listen,
  warnWhenAuthDisabled,
} from '@workemon/http-kit';
import { createLlmServiceDeps } from '@workemon/llm';
import { createApp, SERVICE_NAME } from './app.js';
import { configSchema } from './config.js';
import { BUILT_IN_PROMPT } from './domain/analytics-prompt.js';
import { SERVICE_VERSION } from './version.js';

async function main(): Promise<void> {
  const config = loadConfig(configSchema);
  const deps = createLlmServiceDeps({
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    config,
    builtInPrompt: BUILT_IN_PROMPT,
  });
  warnWhenAuthDisabled(config, deps.logger);
  const server = await listen(createApp(deps), config.PORT, config.HOST);
  deps.logger.info(`${SERVICE_NAME} listening on http://${config.HOST}:${config.PORT}`, {
    prompt: { source: deps.promptSource },
  });
  installGracefulShutdown({
    server,
    logger: deps.logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [],
  });
}

main().catch((error: unknown) => exitOnStartupError(error));
