import { type RunningService, serve, warnWhenAuthDisabled } from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { createLlmServiceDeps, type LlmServiceDeps, type LlmServiceDepsOptions } from './llm-service-deps.js';

/** What tests may replace in an LLM service; everything else, the LLM's base URL included, is config. */
export interface LlmStartOverrides {
  logger?: Logger;
}

type LlmServiceConfig = LlmServiceDepsOptions['config'] & {
  HOST: string;
  PORT: number;
  AUTH_DISABLED: boolean;
};

interface LlmServiceParts extends Omit<LlmServiceDepsOptions, 'config' | 'logger'> {
  createApp: (deps: LlmServiceDeps) => Parameters<typeof serve>[0];
}

/**
 * The start.ts of the two LLM-backed services (guesser, system-analyst) in one call: their wiring
 * is the same, only the prompt and the routes (`createApp`) differ. main.ts and the tests use both.
 */
export function llmServiceEntry<C extends LlmServiceConfig>(service: LlmServiceParts) {
  return {
    serviceLogger: (config: Pick<C, 'LOG_LEVEL'>): Logger =>
      createLogger({ service: service.service, version: service.version, level: config.LOG_LEVEL }),
    startService: (config: C, overrides: LlmStartOverrides = {}): Promise<RunningService> =>
      startLlmService(service, config, overrides),
  };
}

async function startLlmService(
  service: LlmServiceParts,
  config: LlmServiceConfig,
  overrides: LlmStartOverrides,
): Promise<RunningService> {
  const deps = createLlmServiceDeps({
    service: service.service,
    version: service.version,
    builtInPrompt: service.builtInPrompt,
    config,
    ...(overrides.logger ? { logger: overrides.logger } : {}),
  });
  warnWhenAuthDisabled(config, deps.logger);
  const running = await serve(service.createApp(deps), {
    config,
    logger: deps.logger,
    metrics: deps.metrics,
    closers: [],
  });
  deps.logger.info(`${service.service} listening on ${running.url}`, {
    prompt: { source: deps.promptSource },
  });
  return running;
}
