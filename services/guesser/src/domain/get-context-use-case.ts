import type { ContextResponse, GetContextInput } from '@workemon/contracts';
import type { LlmClient } from '@workemon/llm';
import type { Logger } from '@workemon/logger';
import { truncateForLog } from '@workemon/logger';
import { buildUserMessage, ContextVerdictSchema, VERDICT_FORMAT } from './context-prompt.js';

export interface GetContextDeps {
  llm: () => LlmClient;
  systemPrompt: string;
  promptVersion: string;
  logger: Logger;
}

/** The same string for every call with one prompt: the LLM client serialises it once. */
const systemMessages = new Map<string, string>();
function systemMessage(prompt: string): string {
  let message = systemMessages.get(prompt);
  if (message === undefined) systemMessages.set(prompt, (message = `${prompt}\n\n${VERDICT_FORMAT}`));
  return message;
}

/** Asks the LLM whether the request carries enough context, and returns its verdict. */
export async function getContextUseCase(
  deps: GetContextDeps,
  input: GetContextInput,
): Promise<ContextResponse> {
  const llm = deps.llm();
  const result = await llm.completeJson(ContextVerdictSchema, {
    system: systemMessage(deps.systemPrompt),
    user: buildUserMessage(input),
  });
  // debug: the secretary logs the outcome of the whole exchange; this is the per-stage detail.
  deps.logger.debug('context verdict', {
    event: { action: 'get-context', duration: result.latencyMs * 1e6 },
    verdict: { is_enough: result.data.is_enough, request: truncateForLog(input.request, 120) },
  });
  return {
    is_enough: result.data.is_enough,
    response: result.data.response,
    model: result.model,
    provider: result.provider,
    prompt_version: deps.promptVersion,
    usage: result.usage,
    latency_ms: result.latencyMs,
  };
}
