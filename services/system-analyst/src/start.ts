import { type RunningService, serve, warnWhenAuthDisabled } from '@workemon/http-kit';
import { createLlmServiceDeps } from '@workemon/llm';
import { createLogger, type Logger } from '@workemon/logger';
import { createApp, SERVICE_NAME } from './app.js';
import type { Config } from './config.js';
import { BUILT_IN_PROMPT } from './domain/analytics-prompt.js';
import { SERVICE_VERSION } from './version.js';

/** What tests may replace; everything else comes from config (the LLM's base URL included). */
export interface StartOverrides {
  logger?: Logger;
}

export function serviceLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return createLogger({ service: SERVICE_NAME, version: SERVICE_VERSION, level: config.LOG_LEVEL });
}

/** The system-analyst, wired and listening on config's HOST:PORT: main.ts and the tests both start it here. */
export async function startService(config: Config, overrides: StartOverrides = {}): Promise<RunningService> {
  const deps = createLlmServiceDeps({
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    config,
    builtInPrompt: BUILT_IN_PROMPT,
    logger: overrides.logger ?? serviceLogger(config),
  });
  warnWhenAuthDisabled(config, deps.logger);
  const service = await serve(createApp(deps), {
    config,
    logger: deps.logger,
    metrics: deps.metrics,
    closers: [],
  });
  deps.logger.info(`${SERVICE_NAME} listening on ${service.url}`, { prompt: { source: deps.promptSource } });
  return service;
}
