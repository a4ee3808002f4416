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
  type Source,
} from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { type Logger, truncateForLog } from '@workemon/logger';
import { ACTION_DEPARTMENT_MAIL, ACTION_JIRA_TASK, chooseAction } from './action-policy.js';
import { jiraTaskPayload } from './create-jira-task-use-case.js';
import { KeyedSerializer } from './keyed-serializer.js';
import { type Grounding, type KnowledgeGroundingPort, NO_KNOWLEDGE_NOTE } from './knowledge-grounding.js';
import type { KnowledgeGeneration } from './knowledge-ports.js';
import { departmentMailPayload, escalationPayload } from './notify-through-communicator.js';
import { ESCALATION_RESPONSE, threadWithAnswer, threadWithQuestion } from './clarification-thread.js';
import type { ExchangeOwnership } from './exchange-ownership.js';
import { storableKey, storableText } from './storable-text.js';
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
import { heldMessage, heldResponse, type OperatorHoldPort } from './operator-hold.js';

export interface AnalyzeRequestPolicy {
  maxRequestChars: number;
  clarificationTtlMs: number;
  maxClarifications: number;
  /** How long a duplicate waits for the first attempt's answer before giving up with 503 + Retry-After. */
  duplicateWaitMs: number;
}

export interface AnalyzeRequestDeps {
  store: ExchangeStorePort;
  requesters: RequesterLookupPort;
  guesser: GuesserPort;
  analyst: SystemAnalystPort;
  metrics: AnalysisMetricsPort;
  logger: Logger;
  policy: AnalyzeRequestPolicy;
  /** Owner id, heartbeats and take-over of exchanges whose owner died (see exchange-ownership.ts). */
  ownership: ExchangeOwnership;
  /** Conversations an operator took over: their messages are kept for the operator, not analysed. */
  operatorHold?: OperatorHoldPort;
  /** Work stored with the exchange and done after it (see follow-ups.ts); absent: none configured. */
  followUps?: FollowUpPolicy & { kick(): void };
  /** Knowledge passages for the analyst (see knowledge-grounding.ts); absent: answers are not grounded. */
  knowledge?: KnowledgeGroundingPort & { answered(sources: number): void };
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

/** docs/architecture.md "Analysis": idempotency, user, conversation, guesser, analyst, one stored exchange. */
export class AnalyzeRequestUseCase {
  private readonly now: Clock;
  private readonly perUser = new KeyedSerializer();

  constructor(private readonly deps: AnalyzeRequestDeps) {
    this.now = deps.clock ?? (() => new Date());
  }

  async execute(received: AnalyzeRequestInput, traceId?: string): Promise<AnalysisResponse> {
    const { policy, ownership } = this.deps;
    if (received.request.length > policy.maxRequestChars) {
      throw AppError.payloadTooLarge(
        `Parameter 'request' is ${received.request.length} characters long; the limit is ${policy.maxRequestChars}`,
      );
    }
    // What is analysed is what can be stored: a write after the LLM was paid for never fails on content.
    const input: AnalyzeRequestInput = {
      ...received,
      username: storableKey(received.username),
      request: storableText(received.request),
      ...(received.message_id === undefined ? {} : { message_id: storableKey(received.message_id) }),
    };
    // A message_id is claimed with a pending exchange, so a held message must be recognised before
    // that; without one nothing is written first, and the requester lookup reads the take-over too.
    if (
      input.message_id !== undefined &&
      (await this.deps.operatorHold?.holdIfTakenOver({ ...heldMessage(input), traceId }))
    )
      return held(input, traceId);
    const claim = await this.claim(input, traceId);
    if (claim.kind === 'replay') return replayResponse(claim.stored);
    // One person's messages are analysed in arrival order (within this process), so a quick
    // second message is read as the answer to the question the first one produced.
    try {
      return await this.perUser.run(`${input.channel}\u0000${input.username}`, () =>
        this.analyse(claim, input, traceId),
      );
    } finally {
      if (claim.kind === 'claimed') ownership.release(claim.id);
    }
  }

  /**
   * Exactly one attempt per (channel, message_id) runs. A duplicate waits for the live owner's
   * answer (woken when the row settles, not by polling inserts); a row whose owner stopped
   * heartbeating is finished as failed and the duplicate takes over.
   */
  private async claim(input: AnalyzeRequestInput, traceId: string | undefined): Promise<Claim> {
    const { store, policy, ownership } = this.deps;
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
    const timeouts = ownership.timeouts;
    // An insert is tried only when no active row is known, so waiting burns no sequence ids.
    let tryInsert = true;
    for (;;) {
      if (tryInsert) {
        const id = await store.insertPending(pending, ownership.owner);
        if (id !== undefined) {
          ownership.track(id);
          return { kind: 'claimed', id };
        }
      }
      const existing = await store.findActiveByMessageId(input.channel, messageId);
      if (!existing) {
        // The earlier attempt failed in between: claim again.
        if (Date.now() >= deadline)
          throw AppError.unavailable('could not claim this message_id; retry later', {
            retryAfterSeconds: 5,
          });
        tryInsert = true;
        continue;
      }
      tryInsert = false;
      if (existing.username !== input.username || existing.text !== input.request) {
        // Never someone else's answer: a message_id names one message of one person.
        throw AppError.conflict(
          "Parameter 'message_id' was already used on this channel for a different request " +
            '(another username or text); send a new message_id',
        );
      }
      if (existing.status === 'completed') return { kind: 'replay', stored: existing };
      if (existing.ownerSilentMs > timeouts.silentMs || existing.ageMs > timeouts.maxAgeMs) {
        const reason =
          existing.ownerSilentMs > timeouts.silentMs
            ? `abandoned: its owner ${existing.owner ?? '(unknown)'} stopped heartbeating; taken over by a retry`
            : 'abandoned: the attempt produced no result in time; taken over by a retry';
        if (await store.abandonPending(existing.id, reason, timeouts))
          ownership.tookOver(existing.id, existing.owner);
        tryInsert = true;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        // 503 + Retry-After, not 409: every client treats it as 'try again', and the retry is a replay.
        throw AppError.unavailable(
          'this message_id is still being processed by an earlier request; retry later',
          { retryAfterSeconds: 5 },
        );
      }
      // Woken when the row settles; at the latest when its owner would count as dead.
      await ownership.waitForSettled(
        existing.id,
        Math.min(left, timeouts.silentMs - existing.ownerSilentMs + 50),
      );
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
      // One round trip: the directory entry, the open clarification if any, and whether an operator has it.
      const {
        user,
        openConversation: open,
        takenOver,
        knowledge,
      } = await requesters.lookup(input.channel, input.username);
      if (
        takenOver &&
        target.kind === 'unclaimed' &&
        (await this.deps.operatorHold?.hold({ ...heldMessage(input), traceId }))
      )
        return held(input, traceId);
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
      let sources: Source[] | null = null;
      if (!context.is_enough) {
        if (active && active.clarifications >= policy.maxClarifications) {
          action = ACTION_ESCALATE;
          response = ESCALATION_RESPONSE;
          change = { kind: 'close', id: active.id, status: 'escalated' };
        } else {
          action = ACTION_CLARIFY;
          // The LLM's text is kept and replayed as stored: valid UTF-8, no NUL.
          question = storableText(context.response);
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
        const grounding = await this.ground(request, context.response, input.username, knowledge);
        if (grounding) latency.knowledge_ms = Math.round(performance.now() - t);
        sources = grounding?.sources ?? null;
        t = performance.now();
        analytics = await analyst.prepareAnalytics({
          context: analystContext(context, attributes),
          request,
          ...(grounding ? { passages: grounding.passages } : {}),
        });
        latency.analyst_ms = Math.round(performance.now() - t);
        // Nothing relevant in the knowledge base: the answer says so, whatever the model wrote.
        response = storableText(
          grounding?.sources.length === 0
            ? `${analytics.response}\n\n${NO_KNOWLEDGE_NOTE}`
            : analytics.response,
        );
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
        sources,
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
        // The exchange's own identity: never the client's message_id or x-request-id.
        exchangeKey: randomUUID(),
      });
      const stored = await store.complete(target, record, change, {
        channel: input.channel,
        username: input.username,
        ...(expiredConversationId ? { expiredConversationId } : {}),
      });
      conversationId = stored.conversationId;
      this.deps.metrics.analysed(input.channel, action, context.is_enough);
      if (sources) this.deps.knowledge?.answered(sources.length);
      if (record.followUps?.length) this.deps.followUps?.kick();
      // At debug: the access log line (info) carries channel, action and conversation already.
      // Built only when debug is on: its fields are per-request garbage otherwise.
      if (logger.isLevelEnabled('debug'))
        logger.debug('request analysed', {
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
        ...(sources ? { sources } : {}),
      };
    } catch (error) {
      latency.total_ms = Math.round(performance.now() - started);
      const message = error instanceof Error ? error.message : String(error);
      const failure = {
        error: message,
        conversationId,
        analysedRequest: analysed,
        userAttributes,
        guesserVerdict: guesserVerdict ? { ...guesserVerdict } : null,
        latencyMs: latency,
      };
      try {
        await store.markFailed(target, failure);
      } catch (storeError) {
        // The database is away: the record is written when it is back, so no row stays `pending`.
        logger.error(`could not record the failed attempt yet: ${(storeError as Error).message}`, {
          event: { action: 'analyze-request', outcome: 'failure' },
        });
        this.deps.ownership.defer('failure record of an exchange', () => store.markFailed(target, failure));
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
            exchangeUid: source.exchangeKey,
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

  /** Knowledge for the analyst; a failing search is logged and the answer goes on without it. */
  private async ground(
    request: string,
    context: string,
    username: string,
    seen: KnowledgeGeneration | undefined,
  ): Promise<Grounding | undefined> {
    const knowledge = this.deps.knowledge;
    if (!knowledge) return undefined;
    try {
      return await knowledge.ground(request, context, seen);
    } catch (error) {
      this.deps.logger.warn(`knowledge search failed; answering without it: ${(error as Error).message}`, {
        event: { action: 'knowledge-search', outcome: 'failure' },
        user: { name: username },
      });
      return undefined;
    }
  }

  private isAlive(conversation: OpenConversation): boolean {
    return this.now().getTime() - conversation.updatedAt.getTime() < this.deps.policy.clarificationTtlMs;
  }
}

function held(input: AnalyzeRequestInput, traceId: string | undefined): AnalysisResponse {
  return { ...heldResponse(input), ...(traceId ? { request_id: traceId } : {}) };
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
    ...(stored.sources ? { sources: stored.sources } : {}),
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
