import { createHash, randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '@workemon/logger';
import type { HealthCheck } from '@workemon/http-kit';
import { AppError } from '@workemon/errors';
import type client from 'prom-client';
import { z } from 'zod';
import { createLlmMetrics, LlmClient } from './llm-client.js';
import { LLM_PROVIDERS, resolveLlmSettings } from './providers.js';

/** The LLM_* variables shared by every LLM-backed service (docs/architecture.md, Configuration). */
export const llmConfigFields = {
  LLM_PROVIDER: z.enum(LLM_PROVIDERS, { error: `must be one of ${LLM_PROVIDERS.join(', ')}` }).optional(),
  LLM_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  LLM_API_KEY: z.string().optional(),
  LLM_MODEL: z.string().optional(),
  LLM_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
  LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  LLM_JSON_MODE: z.enum(['true', 'false']).optional(),
  YANDEX_FOLDER_ID: z.string().optional(),
  PROMPT: z.string().optional(),
  PROMPT_FILE: z.string().optional(),
};

export type LlmConfig = {
  LLM_PROVIDER?: (typeof LLM_PROVIDERS)[number] | undefined;
  LLM_BASE_URL?: string | undefined;
  LLM_API_KEY?: string | undefined;
  LLM_MODEL?: string | undefined;
  LLM_TIMEOUT_MS: number;
  LLM_MAX_RETRIES: number;
  LLM_JSON_MODE?: 'true' | 'false' | undefined;
  YANDEX_FOLDER_ID?: string | undefined;
  PROMPT?: string | undefined;
  PROMPT_FILE?: string | undefined;
};

/** Either a ready client, or the reason it is not configured (the service runs degraded). */
export type LlmRuntime = { client: LlmClient; reason?: undefined } | { client?: undefined; reason: string };

export function createLlmRuntime(config: LlmConfig, registry: client.Registry, logger: Logger): LlmRuntime {
  const metrics = createLlmMetrics(registry);
  const resolved = resolveLlmSettings({
    provider: config.LLM_PROVIDER,
    baseURL: config.LLM_BASE_URL,
    apiKey: config.LLM_API_KEY,
    model: config.LLM_MODEL,
    folderId: config.YANDEX_FOLDER_ID,
    jsonMode: config.LLM_JSON_MODE === undefined ? undefined : config.LLM_JSON_MODE === 'true',
  });
  if (!resolved.ok) {
    logger.warn(resolved.reason, { event: { action: 'llm-not-configured' } });
    return { reason: resolved.reason };
  }
  return {
    client: new LlmClient({
      settings: resolved.settings,
      timeoutMs: config.LLM_TIMEOUT_MS,
      maxRetries: config.LLM_MAX_RETRIES,
      metrics,
      logger,
    }),
  };
}

/** The client, or a 503 that tells the operator what to set. */
export function requireLlm(runtime: LlmRuntime): LlmClient {
  if (runtime.client) return runtime.client;
  throw AppError.unavailable(runtime.reason);
}

export function llmHealthCheck(runtime: LlmRuntime): HealthCheck {
  return {
    name: 'llm',
    run: () => {
      if (!runtime.client) return { status: 'degraded', detail: runtime.reason };
      const state = runtime.client.circuitState;
      // cockatiel's CircuitState: 0 closed, 1 open, 2 half-open, 3 isolated
      if (state !== '0')
        return {
          status: 'degraded',
          detail: `LLM circuit ${state === '2' ? 'half-open' : 'open'} after upstream failures`,
        };
      // Failing calls degrade /health before the breaker opens: the latest call failed, or half of
      // the recent ones did.
      const recent = runtime.client.recentCalls();
      if (recent.lastFailed || (recent.calls >= 4 && recent.failures * 2 >= recent.calls))
        return {
          status: 'degraded',
          detail: `LLM calls are failing: ${recent.failures} of the last ${recent.calls} in 5 min failed`,
        };
      return { status: 'ok', detail: `${runtime.client.provider}/${runtime.client.model}` };
    },
  };
}

/** PROMPT wins over PROMPT_FILE, which wins over the built-in prompt. */
export function resolvePrompt(
  config: Pick<LlmConfig, 'PROMPT' | 'PROMPT_FILE'>,
  builtIn: string,
): { text: string; source: 'builtin' | 'env' | 'file' } {
  if (config.PROMPT) return { text: config.PROMPT, source: 'env' };
  if (config.PROMPT_FILE) return { text: readFileSync(config.PROMPT_FILE, 'utf8').trim(), source: 'file' };
  return { text: builtIn, source: 'builtin' };
}

/**
 * Wraps untrusted text (emails, chat) so the model can tell data from instructions.
 * A random boundary per call means the text cannot close the block itself.
 */
export function delimitUntrusted(label: string, text: string): string {
  const boundary = `${label.toUpperCase()}_${randomHex()}`;
  return `<<<${boundary}\n${text}\n${boundary}>>>`;
}

const BOUNDARY_BYTES = 6;
/**
 * Boundaries come from a pool refilled by the CSPRNG every 512 of them, each slice used once: a
 * randomBytes call per block (four or five per request) cost the LLM services ~2 % of their CPU.
 */
const entropy = Buffer.alloc(BOUNDARY_BYTES * 512);
let entropyOffset = entropy.length;

function randomHex(): string {
  if (entropyOffset + BOUNDARY_BYTES > entropy.length) {
    randomFillSync(entropy);
    entropyOffset = 0;
  }
  entropyOffset += BOUNDARY_BYTES;
  return entropy.toString('hex', entropyOffset - BOUNDARY_BYTES, entropyOffset);
}

export function promptVersion(prompt: { text: string; source: string }): string {
  return `${prompt.source}-${createHash('sha256').update(prompt.text).digest('hex').slice(0, 10)}`;
}

/** A verdict flag as models write it: true/false, or the same quoted ("true", "да"/"нет"). */
export const llmBoolean = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['true', 'false', 'yes', 'no', 'да', 'нет']))
    .transform((v) => v === 'true' || v === 'yes' || v === 'да'),
]);
