import { ActionSchema, type AnalyticsResponse, type PrepareAnalyticsInput } from '@workemon/contracts';
import type { LlmClient } from '@workemon/llm';
import { type Logger, truncateForLog } from '@workemon/logger';
import {
  AnalyticsVerdictSchema,
  buildUserMessage,
  KNOWLEDGE_RULES,
  VERDICT_FORMAT,
} from './analytics-prompt.js';

export interface PrepareAnalyticsDeps {
  llm: () => LlmClient;
  systemPrompt: string;
  promptVersion: string;
  logger: Logger;
}

/** The same string for every call with one prompt (with and without knowledge): the LLM client serialises it once. */
const systemMessages = { plain: new Map<string, string>(), withKnowledge: new Map<string, string>() };
function systemMessage(prompt: string, withKnowledge: boolean): string {
  const messages = withKnowledge ? systemMessages.withKnowledge : systemMessages.plain;
  let message = messages.get(prompt);
  if (message === undefined) {
    message = `${prompt}\n\n${VERDICT_FORMAT}${withKnowledge ? `\n\n${KNOWLEDGE_RULES}` : ''}`;
    messages.set(prompt, message);
  }
  return message;
}

/** Asks the LLM which components and operations answer the request; keeps only enum actions. */
export async function prepareAnalyticsUseCase(
  deps: PrepareAnalyticsDeps,
  input: PrepareAnalyticsInput,
): Promise<AnalyticsResponse> {
  const result = await deps.llm().completeJson(AnalyticsVerdictSchema, {
    system: systemMessage(deps.systemPrompt, input.passages !== undefined),
    user: buildUserMessage(input),
  });
  const proposed = result.data.action ? ActionSchema.safeParse(result.data.action.trim()) : undefined;
  if (result.data.action && !proposed?.success) {
    deps.logger.warn('analyst proposed an action outside the enum; ignored', {
      verdict: { action: truncateForLog(result.data.action, 80) },
    });
  }
  // debug: the secretary logs the outcome of the whole exchange; this is the per-stage detail.
  deps.logger.debug('analytics verdict', {
    event: { action: 'prepare-analytics', duration: result.latencyMs * 1e6 },
    verdict: { is_enough: result.data.is_enough, action: proposed?.success ? proposed.data : null },
  });
  return {
    is_enough: result.data.is_enough,
    response: result.data.response,
    ...(proposed?.success ? { action: proposed.data } : {}),
    model: result.model,
    provider: result.provider,
    prompt_version: deps.promptVersion,
    usage: result.usage,
    latency_ms: result.latencyMs,
  };
}
