import { createServiceMetrics, HealthRegistry, type ServiceMetrics } from '@workemon/http-kit';
import { createLogger, type Logger, type LogLevel } from '@workemon/logger';
import type { LlmClient } from './llm-client.js';
import {
  createLlmRuntime,
  type LlmConfig,
  llmHealthCheck,
  promptVersion,
  requireLlm,
  resolvePrompt,
} from './llm-config.js';

export interface LlmServiceDeps {
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  health: HealthRegistry;
  authKeys: string[];
  /** The client, or a 503 naming the variables to set (the service runs degraded without one). */
  llm: () => LlmClient;
  systemPrompt: string;
  promptVersion: string;
  promptSource: string;
}

export interface LlmServiceDepsOptions {
  service: string;
  version: string;
  config: LlmConfig & { LOG_LEVEL: LogLevel; SERVICE_TOKEN?: string | undefined };
  builtInPrompt: string;
  /** The service's logger (main.ts makes it before starting, to log start-up failures); made from config when absent. */
  logger?: Logger;
}

/**
 * The wiring shared by the two LLM-backed services (guesser, system-analyst):
 * logger → metrics → LLM client → health. Each service's main.ts adds its app.
 */
export function createLlmServiceDeps(options: LlmServiceDepsOptions): LlmServiceDeps {
  const { service, version, config } = options;
  const logger = options.logger ?? createLogger({ service, version, level: config.LOG_LEVEL });
  const metrics = createServiceMetrics(service, version);
  const runtime = createLlmRuntime(config, metrics.registry, logger);
  const prompt = resolvePrompt(config, options.builtInPrompt);
  return {
    version,
    logger,
    metrics,
    health: new HealthRegistry(service, version, metrics).register(llmHealthCheck(runtime)),
    authKeys: config.SERVICE_TOKEN ? [config.SERVICE_TOKEN] : [],
    llm: () => requireLlm(runtime),
    systemPrompt: prompt.text,
    promptVersion: promptVersion(prompt),
    promptSource: prompt.source,
  };
}
