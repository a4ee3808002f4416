import { AppError } from '@workemon/errors';
import type { Logger } from '@workemon/logger';
import { BrokenCircuitError, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import OpenAI from 'openai';
import { metricsOn } from '@workemon/http-kit';
import type client from 'prom-client';
import type { z } from 'zod';
import { ChatCompletionsClient } from './chat-completions-client.js';
import type { LlmSettings } from './providers.js';

export interface LlmUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface LlmJsonResult<T> {
  data: T;
  model: string;
  provider: string;
  usage: LlmUsage;
  latencyMs: number;
  /** How many completions it took (2 when the first answer needed a repair). */
  attempts: number;
}

export interface LlmMetrics {
  duration: client.Histogram<'provider' | 'model' | 'outcome'>;
  tokens: client.Counter<'provider' | 'model' | 'kind'>;
}

export function createLlmMetrics(registry: client.Registry): LlmMetrics {
  const m = metricsOn(registry);
  return {
    duration: m.histogram(
      'llm_request_duration_seconds',
      'Duration of LLM completion calls, including SDK retries',
      {
        labelNames: ['provider', 'model', 'outcome'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      },
    ),
    tokens: m.counter('llm_tokens_total', 'Tokens consumed by LLM calls', ['provider', 'model', 'kind']),
  };
}

export interface LlmClientOptions {
  settings: LlmSettings;
  timeoutMs: number;
  maxRetries: number;
  metrics: LlmMetrics;
  logger: Logger;
  /** Consecutive upstream failures that open the circuit. */
  breakerThreshold?: number;
  /** How long the circuit stays open before one trial request. */
  breakerHalfOpenAfterMs?: number;
}

export interface ChatPrompt {
  system: string;
  user: string;
}

/** The upstream failed in a way worth counting against the circuit (not our own bad output). */
class UpstreamFailure extends Error {
  constructor(readonly appError: AppError) {
    super(appError.message);
  }
}

/**
 * Structured completions from any OpenAI-compatible provider. Retries (with
 * jittered backoff and Retry-After) are the SDK's, bounded by maxRetries; this
 * layer adds a circuit breaker, strict zod validation of the JSON verdict with one
 * repair attempt, metrics, and a mapping of every failure to a clear AppError.
 */
/** How far back /health looks at call outcomes. */
const RECENT_WINDOW_MS = 5 * 60_000;

export interface LlmCallHealth {
  calls: number;
  failures: number;
  lastFailed: boolean;
}

export class LlmClient {
  private readonly completions: ChatCompletionsClient;
  private readonly breaker;
  /** Outcomes of the latest calls (bounded), for /health: failing calls degrade it before the breaker opens. */
  private readonly recent: { at: number; ok: boolean }[] = [];
  /** Turned off for good when the server rejects response_format (older llama.cpp, some gateways). */
  private jsonMode: boolean;

  constructor(private readonly options: LlmClientOptions) {
    const { settings } = options;
    this.jsonMode = settings.jsonMode;
    this.completions = new ChatCompletionsClient({
      apiKey: settings.apiKey,
      baseURL: settings.baseURL,
      timeoutMs: options.timeoutMs,
      maxRetries: options.maxRetries,
      defaultHeaders: settings.defaultHeaders,
    });
    this.breaker = circuitBreaker(
      handleWhen((e) => e instanceof UpstreamFailure),
      {
        halfOpenAfter: options.breakerHalfOpenAfterMs ?? 10_000,
        breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
      },
    );
  }

  get provider(): string {
    return this.options.settings.provider;
  }

  get model(): string {
    return this.options.settings.model;
  }

  get circuitState(): string {
    return String(this.breaker.state);
  }

  /** Calls of the last few minutes: how many, how many failed upstream, and whether the latest did. */
  recentCalls(now = Date.now()): LlmCallHealth {
    const inWindow = this.recent.filter((c) => now - c.at <= RECENT_WINDOW_MS);
    return {
      calls: inWindow.length,
      failures: inWindow.filter((c) => !c.ok).length,
      lastFailed: inWindow.at(-1)?.ok === false,
    };
  }

  private record(ok: boolean): void {
    this.recent.push({ at: Date.now(), ok });
    if (this.recent.length > 50) this.recent.shift();
  }

  async completeJson<S extends z.ZodType>(
    schema: S,
    prompt: ChatPrompt,
    signal?: AbortSignal,
  ): Promise<LlmJsonResult<z.output<S>>> {
    const started = performance.now();
    const usage: LlmUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: prompt.system },
      { role: 'user', content: prompt.user },
    ];
    let lastProblem = '';
    for (let attempt = 1; attempt <= 2; attempt++) {
      const content = await this.complete(messages, usage, signal);
      const parsed = parseJsonVerdict(content, schema);
      if (parsed.ok) {
        return {
          data: parsed.value,
          model: this.model,
          provider: this.provider,
          usage,
          latencyMs: Math.round(performance.now() - started),
          attempts: attempt,
        };
      }
      lastProblem = parsed.problem;
      this.options.logger.warn('LLM answer failed validation', {
        event: { action: 'llm-invalid-output' },
        llm: { attempt, problem: parsed.problem },
      });
      // One repair round: show the model its own answer and what is wrong with it.
      messages.push({ role: 'assistant', content: content.slice(0, 4000) });
      messages.push({
        role: 'user',
        content: `Your previous answer was invalid (${parsed.problem}). Reply again with ONLY one JSON object that matches the requested format, no prose, no code fences.`,
      });
    }
    throw AppError.badGateway(`LLM returned an invalid answer twice: ${lastProblem}`);
  }

  private async complete(
    messages: OpenAI.Chat.ChatCompletionMessageParam[],
    usage: LlmUsage,
    signal?: AbortSignal,
  ): Promise<string> {
    const { provider, model } = this.options.settings;
    const started = performance.now();
    let outcome = 'success';
    try {
      const completion = await this.breaker.execute(async () => {
        const create = () =>
          this.completions.create(
            {
              model,
              messages,
              temperature: 0.2,
              ...(this.jsonMode ? { response_format: { type: 'json_object' as const } } : {}),
            },
            signal ? { signal } : undefined,
          );
        try {
          try {
            return await create();
          } catch (error) {
            if (!this.jsonMode || !rejectsJsonMode(error)) throw error;
            this.options.logger.warn(
              'LLM server rejects response_format=json_object; continuing without it',
              {
                event: { action: 'llm-json-mode-off' },
              },
            );
            this.jsonMode = false;
            return await create();
          }
        } catch (error) {
          const mapped = mapOpenAiError(error, this.options.timeoutMs);
          this.options.logger.warn(`LLM call failed: ${mapped.message}`, {
            event: { action: 'llm-call', outcome: 'failure' },
            llm: { provider, model, detail: providerDetail(error) },
          });
          throw new UpstreamFailure(mapped);
        }
      });
      const u = completion.usage;
      if (u) {
        // Some providers report fractional or missing counts: whole, non-negative numbers only.
        const prompt = tokenCount(u.prompt_tokens);
        const completionTokens = tokenCount(u.completion_tokens);
        const total = Math.max(tokenCount(u.total_tokens), prompt + completionTokens);
        usage.promptTokens += prompt;
        usage.completionTokens += completionTokens;
        usage.totalTokens += total;
        this.options.metrics.tokens.inc({ provider, model, kind: 'prompt' }, prompt);
        this.options.metrics.tokens.inc({ provider, model, kind: 'completion' }, completionTokens);
      }
      const content = completion.choices?.[0]?.message?.content;
      if (typeof content !== 'string' || content.trim() === '') {
        outcome = 'empty';
        return '';
      }
      return content;
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        outcome = 'circuit_open';
        throw AppError.unavailable('LLM circuit is open after repeated upstream failures; retry shortly', {
          retryAfterSeconds: Math.ceil((this.options.breakerHalfOpenAfterMs ?? 10_000) / 1000),
        });
      }
      if (error instanceof UpstreamFailure) {
        outcome = error.appError.code === 'GATEWAY_TIMEOUT' ? 'timeout' : 'error';
        throw error.appError;
      }
      outcome = 'error';
      this.options.logger.warn('LLM call failed', {
        event: { action: 'llm-call', outcome: 'failure' },
        llm: { provider, model, detail: providerDetail(error) },
      });
      throw AppError.badGateway('LLM call failed', error);
    } finally {
      this.record(outcome === 'success' || outcome === 'empty');
      this.options.metrics.duration.observe(
        { provider, model, outcome },
        (performance.now() - started) / 1000,
      );
    }
  }
}

function tokenCount(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/**
 * What a provider's error says is logged, never answered: bodies can be HTML pages or carry
 * ANSI escapes and internals. Control characters go, the length is bounded.
 */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

function providerDetail(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .replace(ANSI_ESCAPE, '')
    .replace(/\p{Cc}+/gu, ' ')
    .slice(0, 300);
}

function rejectsJsonMode(error: unknown): boolean {
  return (
    error instanceof OpenAI.BadRequestError &&
    /response_format|json_object|json mode/i.test(error.message ?? '')
  );
}

function mapOpenAiError(error: unknown, timeoutMs: number): AppError {
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return AppError.gatewayTimeout(`LLM did not answer within ${timeoutMs} ms (after retries)`, error);
  }
  if (error instanceof OpenAI.APIUserAbortError) {
    return AppError.gatewayTimeout('LLM call was aborted: the request deadline passed', error);
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return AppError.unavailable('LLM is unreachable', { cause: error });
  }
  if (error instanceof OpenAI.RateLimitError) {
    const retryAfter = Number(error.headers?.get?.('retry-after'));
    return AppError.unavailable('LLM rate limit exceeded (429) after retries', {
      cause: error,
      ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  if (error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError) {
    return AppError.badGateway(`LLM rejected the credentials (${error.status}): check LLM_API_KEY`, error);
  }
  if (error instanceof OpenAI.APIError) {
    // The provider's body (an HTML error page, ANSI escapes) stays in our log, not in the answer.
    return AppError.badGateway(`LLM answered HTTP ${error.status ?? '?'}`, error);
  }
  // The SDK throws plain errors when the HTTP body is not JSON.
  return AppError.badGateway('LLM returned an unreadable response', error);
}

/**
 * Accepts a bare JSON object, or one wrapped in a code fence or surrounded by prose. Reasoning
 * models served by Ollama/llama.cpp (DeepSeek-R1, QwQ, Qwen3) put a <think>…</think> block first:
 * it is dropped, since its drafts may hold braces of their own.
 */
export function parseJsonVerdict<S extends z.ZodType>(
  raw: string,
  schema: S,
): { ok: true; value: z.output<S> } | { ok: false; problem: string } {
  const content = raw.replace(/<think>[\s\S]*?(<\/think>|$)/gi, '');
  if (!content.trim()) return { ok: false, problem: 'empty answer' };
  const candidates = [content.trim()];
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(content);
  if (fenced?.[1]) candidates.push(fenced[1].trim());
  const first = content.indexOf('{');
  const last = content.lastIndexOf('}');
  if (first >= 0 && last > first) candidates.push(content.slice(first, last + 1));
  let problem = 'answer is not JSON';
  for (const candidate of candidates) {
    let json: unknown;
    try {
      json = JSON.parse(candidate);
    } catch {
      continue;
    }
    const result = schema.safeParse(json);
    if (result.success) return { ok: true, value: result.data };
    const issue = result.error.issues[0];
    problem = `field "${issue?.path.join('.') || '(root)'}": ${issue?.message ?? 'invalid'}`;
  }
  return { ok: false, problem };
}
