import { createServiceMetrics, HealthRegistry, type ServiceMetrics } from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
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
  config: LlmConfig & { LOG_LEVEL: string; SERVICE_TOKEN?: string | undefined };
  builtInPrompt: string;
  /** Log destination; stdout unless a test captures it. */
  logStream?: NodeJS.WritableStream;
}

/**
 * The wiring shared by the two LLM-backed services (guesser, system-analyst):
 * logger → metrics → LLM client → health. Each service's main.ts adds its app.
 */
export function createLlmServiceDeps(options: LlmServiceDepsOptions): LlmServiceDeps {
  const { service, version, config } = options;
  const logger = createLogger({
    service,
    version,
    level: config.LOG_LEVEL,
    ...(options.logStream ? { stream: options.logStream } : {}),
  });
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
