import { randomUUID } from 'node:crypto';
import {
  ACTION_CLARIFY,
  ACTION_ESCALATE,
  type Action,
  type AnalysisResponse,
  type AnalyticsResponse,
  type AnalyzeRequestInput,
  type ContextResponse,
  type LlmUsage,
} from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { type Logger, truncateForLog } from '@workemon/logger';
import { ACTION_DEPARTMENT_MAIL, ACTION_JIRA_TASK, chooseAction } from './action-policy.js';
import { jiraTaskPayload } from './create-jira-task-use-case.js';
import { KeyedSerializer } from './keyed-serializer.js';
import { departmentMailPayload, escalationPayload } from './notify-through-communicator.js';
import { ESCALATION_RESPONSE, threadWithAnswer, threadWithQuestion } from './clarification-thread.js';
import type {
  AnalysisMetricsPort,
  Clock,
  ConversationChange,
  ExchangeRecord,
  ExchangeStorePort,
  ExchangeTarget,
  FollowUpPolicy,
  FollowUpRequest,
  GuesserPort,
  OpenConversation,
  StageLatency,
  StoredExchange,
  SystemAnalystPort,
  RequesterLookupPort,
} from './ports.js';

export interface AnalyzeRequestPolicy {
  maxRequestChars: number;
  clarificationTtlMs: number;
  maxClarifications: number;
  /** How long a duplicate waits for the first attempt's answer before giving up with 503 + Retry-After. */
  duplicateWaitMs: number;
  /** A `pending` row older than this belongs to a crashed attempt and may be taken over. */
  stalePendingMs: number;
  pollIntervalMs?: number;
}

export interface AnalyzeRequestDeps {
  store: ExchangeStorePort;
  requesters: RequesterLookupPort;
  guesser: GuesserPort;
  analyst: SystemAnalystPort;
  metrics: AnalysisMetricsPort;
  logger: Logger;
  policy: AnalyzeRequestPolicy;
  /** Work stored with the exchange and done after it (see follow-ups.ts); absent: none configured. */
  followUps?: FollowUpPolicy & { kick(): void };
  clock?: Clock;
}

export const UNKNOWN_ATTRIBUTE = 'unknown';

interface FollowUpSource {
  channel: AnalyzeRequestInput['channel'];
  username: string;
  displayName: string;
  department: string;
  request: string;
  response: string;
  traceId: string | undefined;
  conversationId: string | null;
  exchangeKey: string;
}

type Claim = ExchangeTarget | { kind: 'replay'; stored: StoredExchange };

/** DESIGN §2 "Analysis": idempotency, user, conversation, guesser, analyst, one stored exchange. */
export class AnalyzeRequestUseCase {
  private readonly now: Clock;
  private readonly perUser = new KeyedSerializer();

  constructor(private readonly deps: AnalyzeRequestDeps) {
    this.now = deps.clock ?? (() => new Date());
  }

  async execute(input: AnalyzeRequestInput, traceId?: string): Promise<AnalysisResponse> {
    const { policy } = this.deps;
    if (input.request.length > policy.maxRequestChars) {
      throw AppError.payloadTooLarge(
        `Parameter 'request' is ${input.request.length} characters long; the limit is ${policy.maxRequestChars}`,
      );
    }
    const claim = await this.claim(input, traceId);
    if (claim.kind === 'replay') return replayResponse(claim.stored);
    // One person's messages are analysed in arrival order (within this process), so a quick
    // second message is read as the answer to the question the first one produced.
    return this.perUser.run(`${input.channel}\u0000${input.username}`, () =>
      this.analyse(claim, input, traceId),
    );
  }

  /** Exactly one attempt per (channel, message_id) runs; duplicates wait for its answer (bounded). */
  private async claim(input: AnalyzeRequestInput, traceId: string | undefined): Promise<Claim> {
    const { store, policy } = this.deps;
    const pending = {
      traceId,
      channel: input.channel,
      username: input.username,
      messageId: input.message_id,
      text: input.request,
    };
    const messageId = input.message_id;
    // Without a message_id nothing can replay the request: its row is written once, with the outcome.
    if (messageId === undefined)
      return { kind: 'unclaimed', exchange: { ...pending, receivedAt: this.now() } };
    const deadline = Date.now() + policy.duplicateWaitMs;
    const pollMs = policy.pollIntervalMs ?? 100;
    for (;;) {
      const id = await store.insertPending(pending);
      if (id !== undefined) return { kind: 'claimed', id };
      const existing = await store.findActiveByMessageId(input.channel, messageId);
      if (existing?.status === 'completed') return { kind: 'replay', stored: existing };
      if (existing) {
        if (this.now().getTime() - existing.createdAt.getTime() > policy.stalePendingMs) {
          await store.abandonPending(existing.id, 'abandoned: the attempt produced no result in time');
          continue;
        }
        if (Date.now() >= deadline) {
          // 503 + Retry-After, not 409: every client treats it as 'try again', and the retry is a replay.
          throw AppError.unavailable(
            `message_id '${messageId}' is still being processed by an earlier request; retry later`,
            { retryAfterSeconds: 5 },
          );
        }
        await sleep(pollMs);
        continue;
      }
      // No active row: the earlier attempt failed in between; try to claim again.
      if (Date.now() >= deadline) throw AppError.unavailable(`could not claim message_id '${messageId}'`);
    }
  }

  private async analyse(
    target: ExchangeTarget,
    input: AnalyzeRequestInput,
    traceId: string | undefined,
  ): Promise<AnalysisResponse> {
    const { store, requesters, guesser, analyst, policy, logger } = this.deps;
    const started = performance.now();
    const latency: StageLatency = {};
    let conversationId: string | null = null;
    let analysed: string | null = null;
    let userAttributes: Record<string, string> | null = null;
    let guesserVerdict: ContextResponse | undefined;
    try {
      // One round trip: the directory entry and the open clarification, if any.
      const { user, openConversation: open } = await requesters.lookup(input.channel, input.username);
      const attributes = {
        username: input.username,
        display_name: user?.display_name ?? input.username,
        department: user?.department || UNKNOWN_ATTRIBUTE,
        position: user?.position || UNKNOWN_ATTRIBUTE,
        known: user ? 'true' : 'false',
      };
      userAttributes = attributes;

      const active = open && this.isAlive(open) ? open : undefined;
      const expiredConversationId = open && !active ? open.id : undefined;
      conversationId = active?.id ?? null;
      const request = active ? threadWithAnswer(active.thread, input.request) : input.request;
      analysed = request;

      let t = performance.now();
      const context = await guesser.getContext({
        username: input.username,
        department: attributes.department,
        position: attributes.position,
        request,
      });
      guesserVerdict = context;
      latency.guesser_ms = Math.round(performance.now() - t);

      let change: ConversationChange = { kind: 'none' };
      let analytics: AnalyticsResponse | undefined;
      let action: Action;
      let question = '';
      let response = '';
      if (!context.is_enough) {
        if (active && active.clarifications >= policy.maxClarifications) {
          action = ACTION_ESCALATE;
          response = ESCALATION_RESPONSE;
          change = { kind: 'close', id: active.id, status: 'escalated' };
        } else {
          action = ACTION_CLARIFY;
          question = context.response;
          const thread = threadWithQuestion(request, question, active === undefined);
          if (active) {
            change = {
              kind: 'continue',
              id: active.id,
              thread,
              question,
              clarifications: active.clarifications + 1,
            };
          } else {
            conversationId = randomUUID();
            change = { kind: 'open', id: conversationId, originalRequest: input.request, thread, question };
          }
        }
      } else {
        t = performance.now();
        analytics = await analyst.prepareAnalytics({ context: analystContext(context, attributes), request });
        latency.analyst_ms = Math.round(performance.now() - t);
        response = analytics.response;
        action = chooseAction(input.channel, analytics.action);
        if (active) change = { kind: 'close', id: active.id, status: 'resolved' };
      }
      latency.total_ms = Math.round(performance.now() - started);

      const record: ExchangeRecord = {
        conversationId,
        analysedRequest: request,
        userAttributes: attributes,
        guesserVerdict: { ...context },
        analystVerdict: analytics ? { ...analytics } : null,
        isEnough: context.is_enough,
        action,
        question,
        response,
        latencyMs: latency,
        ...llmBookkeeping(context, analytics),
      };
      record.followUps = this.followUpsFor(action, {
        channel: input.channel,
        username: input.username,
        displayName: attributes.display_name,
        department: attributes.department,
        request,
        response,
        traceId,
        conversationId,
        exchangeKey: input.message_id ?? traceId ?? randomUUID(),
      });
      const stored = await store.complete(target, record, change, {
        channel: input.channel,
        username: input.username,
        ...(expiredConversationId ? { expiredConversationId } : {}),
      });
      conversationId = stored.conversationId;
      this.deps.metrics.analysed(input.channel, action, context.is_enough);
      if (record.followUps?.length) this.deps.followUps?.kick();
      logger.info('request analysed', {
        event: { action: 'analyze-request', outcome: 'success' },
        user: { name: truncateForLog(input.username, 64) },
        labels: { channel: input.channel, action, is_enough: String(context.is_enough) },
        workemon: {
          request_text: truncateForLog(input.request),
          latency_ms: latency,
          conversation_id: conversationId,
        },
      });
      return {
        is_enough: context.is_enough,
        request,
        action,
        question,
        response,
        ...(traceId ? { request_id: traceId } : {}),
        ...(conversationId ? { conversation_id: conversationId } : {}),
        replayed: false,
      };
    } catch (error) {
      latency.total_ms = Math.round(performance.now() - started);
      const message = error instanceof Error ? error.message : String(error);
      try {
        await store.markFailed(target, {
          error: message,
          conversationId,
          analysedRequest: analysed,
          userAttributes,
          guesserVerdict: guesserVerdict ? { ...guesserVerdict } : null,
          latencyMs: latency,
        });
      } catch (storeError) {
        logger.error(`could not record the failed attempt: ${(storeError as Error).message}`, {
          err: storeError as Error,
        });
      }
      logger.warn(`analysis failed: ${message}`, {
        event: { action: 'analyze-request', outcome: 'failure' },
        user: { name: truncateForLog(input.username, 64) },
        labels: { channel: input.channel },
      });
      throw error;
    }
  }

  private followUpsFor(action: Action, source: FollowUpSource): FollowUpRequest[] {
    const followUps = this.deps.followUps;
    if (!followUps) return [];
    if (action === ACTION_JIRA_TASK && followUps.fileJiraIssues) {
      return [
        {
          kind: 'jira-task',
          payload: jiraTaskPayload({
            ...source,
            analysis: source.response,
            exchangeUid: randomUUID(),
          }),
        },
      ];
    }
    if (action === ACTION_ESCALATE && followUps.escalationChatId) {
      return [{ kind: 'escalation', payload: escalationPayload(source, followUps.escalationChatId) }];
    }
    if (action === ACTION_DEPARTMENT_MAIL && followUps.departmentLists) {
      const list = followUps.departmentLists[source.department];
      if (list) {
        return [
          {
            kind: 'department-mail',
            payload: departmentMailPayload({ ...source, analysis: source.response }, list),
          },
        ];
      }
      this.deps.logger.warn(`no mailing list for department '${source.department}': nothing is sent`, {
        event: { action: 'department-mail', outcome: 'failure' },
        user: { name: truncateForLog(source.username, 64) },
      });
    }
    return [];
  }

  private isAlive(conversation: OpenConversation): boolean {
    return this.now().getTime() - conversation.updatedAt.getTime() < this.deps.policy.clarificationTtlMs;
  }
}

function replayResponse(stored: StoredExchange): AnalysisResponse {
  return {
    is_enough: stored.isEnough ?? false,
    request: stored.analysedRequest ?? '',
    action: (stored.action ?? ACTION_CLARIFY) as Action,
    question: stored.question ?? '',
    response: stored.response ?? '',
    ...(stored.traceId ? { request_id: stored.traceId } : {}),
    ...(stored.conversationId ? { conversation_id: stored.conversationId } : {}),
    replayed: true,
  };
}

/** The analyst gets the guesser's reading of the request plus who is asking. */
function analystContext(context: ContextResponse, attributes: Record<string, string>): string {
  return [
    context.response,
    `Пользователь: ${attributes.display_name} (${attributes.username}); департамент: ${attributes.department}; должность: ${attributes.position}.`,
  ].join('\n\n');
}

function llmBookkeeping(
  context: ContextResponse,
  analytics: AnalyticsResponse | undefined,
): Pick<ExchangeRecord, 'model' | 'promptVersion' | 'tokenUsage' | 'tokensTotal'> {
  const stages: [string, ContextResponse | AnalyticsResponse][] = [['guesser', context]];
  if (analytics) stages.push(['system_analyst', analytics]);
  const models = [...new Set(stages.map(([, v]) => v.model).filter((m): m is string => Boolean(m)))];
  const prompts = stages
    .filter(([, v]) => v.prompt_version)
    .map(([name, v]) => `${name}:${v.prompt_version}`);
  const usage: Record<string, LlmUsage> = {};
  let total: number | null = null;
  for (const [name, v] of stages) {
    if (!v.usage) continue;
    usage[name] = v.usage;
    total = (total ?? 0) + v.usage.totalTokens;
  }
  return {
    model: models.length > 0 ? models.join(', ') : null,
    promptVersion: prompts.length > 0 ? prompts.join(', ') : null,
    tokenUsage: Object.keys(usage).length > 0 ? usage : null,
    tokensTotal: total,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
