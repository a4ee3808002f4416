import type {
  Action,
  AnalyticsResponse,
  Channel,
  ContextResponse,
  ConversationKey,
  ConversationSummary,
  ConversationView,
  InboxChanges,
  InboxPage,
  InboxQuery,
  OperatorReplyOutcome,
  GetContextInput,
  HistoryPage,
  HistoryQuery,
  PrepareAnalyticsInput,
  SendMessageInput,
  SendMessageResult,
  Source,
  User,
} from '@workemon/contracts';
import type { KnowledgeGeneration } from './knowledge-ports.js';

/** What the domain needs from the outside world; src/data and src/clients implement these. */

export interface GuesserPort {
  getContext(input: GetContextInput): Promise<ContextResponse>;
}

export interface SystemAnalystPort {
  prepareAnalytics(input: PrepareAnalyticsInput): Promise<AnalyticsResponse>;
}

export interface UserDirectoryPort {
  find(username: string): Promise<User | undefined>;
}

/** Who is asking and whether they owe us an answer to a question: both known before the LLM is asked. */
export interface RequesterLookupPort {
  /**
   * takenOver: an operator has this conversation (read in the same round trip; see operator-hold.ts).
   * knowledge: the knowledge base's generation, read in the same round trip too, so grounding the
   * answer needs no statement of its own when this process already knows that generation.
   */
  lookup(
    channel: Channel,
    username: string,
  ): Promise<{
    user?: User;
    openConversation?: OpenConversation;
    takenOver?: boolean;
    knowledge?: KnowledgeGeneration;
  }>;
}

export interface StageLatency {
  guesser_ms?: number;
  analyst_ms?: number;
  knowledge_ms?: number;
  total_ms?: number;
}

export interface StoredExchange {
  id: number;
  status: 'pending' | 'completed' | 'failed';
  createdAt: Date;
  /** Who sent it and what (as stored): a message_id replays only for the same user and text. */
  username: string;
  text: string;
  /** The instance analysing a `pending` row. */
  owner: string | null;
  /** Milliseconds since the owner's last heartbeat (database clock; no skew between replicas). */
  ownerSilentMs: number;
  /** Milliseconds since the row was created (database clock). */
  ageMs: number;
  traceId: string | null;
  conversationId: string | null;
  analysedRequest: string | null;
  isEnough: boolean | null;
  action: string | null;
  question: string | null;
  response: string | null;
  /** Knowledge documents the answer rested on (null: stored before the knowledge base, or a clarification). */
  sources: Source[] | null;
}

export interface OpenConversation {
  id: string;
  originalRequest: string;
  thread: string;
  clarifications: number;
  updatedAt: Date;
}

export interface PendingExchange {
  traceId: string | undefined;
  channel: Channel;
  username: string;
  messageId: string | undefined;
  text: string;
  /** When the request arrived (rows inserted at the end keep their arrival time). */
  receivedAt?: Date;
}

/** What happens to the user's conversation when the exchange is stored. */
export type ConversationChange =
  | { kind: 'none' }
  | { kind: 'open'; id: string; originalRequest: string; thread: string; question: string }
  | { kind: 'continue'; id: string; thread: string; question: string; clarifications: number }
  | { kind: 'close'; id: string; status: 'resolved' | 'escalated' };

/** Work stored with the exchange and done after it (see FollowUpWorker). */
export const FOLLOW_UP_KINDS = ['jira-task', 'escalation', 'department-mail'] as const;
export type FollowUpKind = (typeof FOLLOW_UP_KINDS)[number];

/** Which follow-ups this deployment does, and where they go; absent parts are not configured. */
export interface FollowUpPolicy {
  fileJiraIssues: boolean;
  escalationChatId?: string;
  /** department → mailing list address */
  departmentLists?: Readonly<Record<string, string>>;
}

export type FollowUpRequest =
  | { kind: 'jira-task'; payload: JiraTaskPayload }
  | { kind: 'escalation'; payload: SendPayload }
  | { kind: 'department-mail'; payload: SendPayload };

/** A message the communicator's POST /send delivers (escalations, department mail). */
export interface SendPayload {
  channel: 'email' | 'tg';
  to: string;
  subject?: string;
  text: string;
  idempotencyKey: string;
}

/** Does one kind of follow-up; throwing means "not done" (JiraCallError says whether to retry). */
export interface FollowUpHandler {
  /** For logs: "jira issue", "escalation". */
  readonly noun: string;
  run(
    payload: Record<string, unknown>,
    attempt: number,
  ): Promise<{
    result: Record<string, unknown>;
    outcome: 'created' | 'found_existing' | 'sent';
    summary: string;
  }>;
}

export interface JiraTaskPayload {
  summary: string;
  description: string;
  /** Unique per exchange: lets a retry find the issue an interrupted attempt already filed. */
  label: string;
}

export interface ExchangeRecord {
  conversationId: string | null;
  followUps?: FollowUpRequest[];
  analysedRequest: string;
  userAttributes: Record<string, string>;
  guesserVerdict: Record<string, unknown> | null;
  analystVerdict: Record<string, unknown> | null;
  isEnough: boolean;
  action: Action;
  question: string;
  response: string;
  latencyMs: StageLatency;
  model: string | null;
  promptVersion: string | null;
  tokenUsage: Record<string, unknown> | null;
  tokensTotal: number | null;
  /** Knowledge documents passed to the analyst; null when the analyst was not asked. */
  sources: Source[] | null;
}

export interface FailureRecord {
  error: string;
  conversationId: string | null;
  analysedRequest: string | null;
  userAttributes: Record<string, string> | null;
  guesserVerdict: Record<string, unknown> | null;
  latencyMs: StageLatency;
}

/**
 * Where an exchange is written: the `pending` row claimed for a message_id, or — for
 * requests without one, which nothing can replay — a row inserted only once the outcome is known.
 */
export type ExchangeTarget =
  { kind: 'claimed'; id: number } | { kind: 'unclaimed'; exchange: PendingExchange };

/** When a `pending` exchange counts as abandoned: its owner silent this long, or the row this old. */
export interface OwnerTimeouts {
  silentMs: number;
  maxAgeMs: number;
}

export interface ExchangeStorePort {
  /**
   * Inserts a `pending` row owned by `owner` (heartbeat now); undefined when a non-failed row for
   * (channel, message_id) already exists.
   */
  insertPending(exchange: PendingExchange, owner: string): Promise<number | undefined>;
  findActiveByMessageId(channel: Channel, messageId: string): Promise<StoredExchange | undefined>;
  /**
   * Marks a `pending` row failed with `reason` if it is still abandoned by `timeouts` (checked in the
   * same statement, so an owner that just beat keeps it); false when it moved on or came alive.
   */
  abandonPending(id: number, reason: string, timeouts: OwnerTimeouts): Promise<boolean>;
  /**
   * One transaction: the exchange row becomes `completed`, the conversation changes, expired ones close.
   * Returns the conversation the exchange ended up in (an open one may already exist after a race).
   */
  complete(
    target: ExchangeTarget,
    record: ExchangeRecord,
    change: ConversationChange,
    scope: { channel: Channel; username: string; expiredConversationId?: string },
  ): Promise<{ conversationId: string | null }>;
  markFailed(target: ExchangeTarget, failure: FailureRecord): Promise<void>;
  history(query: HistoryQuery): Promise<HistoryPage>;
}

/** Sends a message on a channel on the secretary's behalf (the communicator's POST /send). */
export interface NotifierPort {
  send(message: SendMessageInput): Promise<SendMessageResult>;
}

/** Heartbeats and the sweep of exchanges whose owner died (see ExchangeOwnership). */
export interface ExchangeLeaseStorePort {
  /** Renews the heartbeat of these `pending` rows of this owner; returns how many were renewed. */
  heartbeat(owner: string, ids: number[]): Promise<number>;
  /** Finishes every abandoned `pending` row as failed, naming its silent owner; returns them. */
  finishAbandoned(timeouts: OwnerTimeouts): Promise<{ id: number; owner: string | null }[]>;
}

export interface ExchangeOwnershipMetricsPort {
  /** An abandoned exchange was finished: by a retry of its message_id, or by the periodic sweep. */
  takeover(by: 'retry' | 'sweep'): void;
  heartbeat(outcome: 'ok' | 'failed'): void;
  /** How many exchanges this instance is analysing now. */
  inFlight(count: number): void;
}

/** Tells when a `pending` exchange settled (LISTEN/NOTIFY where the database delivers it). */
export interface ExchangeSettledFeedPort {
  start(onSettled: (id: number) => void): void;
  stop(): Promise<void>;
}

export interface AnalysisMetricsPort {
  analysed(channel: Channel, action: Action, isEnough: boolean): void;
}

export type Clock = () => Date;

export interface UserStorePort extends UserDirectoryPort {
  upsert(users: User[], source: 'file' | 'api'): Promise<number>;
  list(limit: number, cursor: string | undefined): Promise<{ items: User[]; next_cursor: string | null }>;
}

export interface ClaimedFollowUp {
  id: number;
  requestId: number;
  kind: FollowUpKind;
  payload: Record<string, unknown>;
  /** Including this one. */
  attempts: number;
  /** The exchange's request id: the follow-up's logs and calls carry it as trace.id / x-request-id. */
  traceId: string | null;
  /** Set when the row was leased by an instance that stopped heartbeating: this claim takes it over. */
  previousOwner: string | null;
}

export interface FollowUpStorePort {
  /**
   * Leases due rows to `owner` for leaseMs (attempts + 1); rows whose lease another owner keeps
   * renewing are skipped, rows of a silent owner are taken over.
   */
  claimDue(limit: number, leaseMs: number, owner: string): Promise<ClaimedFollowUp[]>;
  /** Renews the lease (and heartbeat) of rows `owner` is working on. */
  heartbeat(ids: number[], owner: string, leaseMs: number): Promise<void>;
  markDone(id: number, result: Record<string, unknown>): Promise<void>;
  retryLater(id: number, error: string, delayMs: number): Promise<void>;
  markFailed(id: number, error: string): Promise<void>;
  pendingCounts(): Promise<Record<string, number>>;
}

export interface JiraIssueRef {
  key: string;
  url: string;
}

/** Jira's REST API; failures are JiraCallError. */
export interface JiraPort {
  findByLabel(label: string): Promise<JiraIssueRef | undefined>;
  createIssue(issue: { summary: string; description: string; labels: string[] }): Promise<JiraIssueRef>;
}

export interface FollowUpMetricsPort {
  outcome(kind: string, outcome: 'created' | 'found_existing' | 'sent' | 'retry' | 'failed'): void;
  /** A row leased by an owner that stopped heartbeating was taken over. */
  takeover(kind: string): void;
}

export type OperatorAction = 'take-over' | 'release' | 'resolve' | 'assign';

export interface NewOperatorReply {
  operator: string;
  text: string;
  idempotencyKey: string;
}

/** An operator's reply as stored; `created` is false when its idempotency key was seen before. */
export interface RecordedReply {
  id: string;
  operator: string;
  status: string;
  created: boolean;
  channel: string;
  username: string;
}

/** The operators' view of conversations and their hand in them (data/operator-repository.ts). */
export interface OperatorStorePort {
  inbox(query: InboxQuery): Promise<InboxPage>;
  escalations(limit: number): Promise<ConversationSummary[]>;
  changes(): Promise<InboxChanges>;
  summary(key: ConversationKey): Promise<ConversationSummary | undefined>;
  conversation(key: ConversationKey): Promise<ConversationView | undefined>;
  /** Applies only when no other operator holds the conversation; the summary says who does. */
  act(
    key: ConversationKey,
    action: OperatorAction,
    operator: string,
  ): Promise<{ applied: boolean; summary: ConversationSummary | undefined }>;
  /** Records the reply before it is sent; a repeated idempotency key returns the first record. */
  recordReply(key: ConversationKey, reply: NewOperatorReply): Promise<RecordedReply>;
  /** The person's latest message id (the mail an answer threads to). */
  lastMessageId(key: ConversationKey): Promise<string | null>;
  telegramChatId(username: string): Promise<string | null>;
  /** False when no such reply was recorded for this conversation. */
  replyOutcome(key: ConversationKey, idempotencyKey: string, outcome: OperatorReplyOutcome): Promise<boolean>;
}
