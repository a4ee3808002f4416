import type { INBOUND_STATUSES } from '@workemon/contracts';

export type InboundStatus = (typeof INBOUND_STATUSES)[number];

/**
 * One inbound message as the ingest ledger keeps it. The domain owns this shape; the repository
 * implements the ports below with the table's rows, so the build fails when the two drift apart.
 */
export interface InboundMessage {
  id: number;
  channel: string;
  externalId: string;
  mailbox: string | null;
  uidvalidity: number | null;
  uid: number | null;
  username: string;
  /** Where the reply goes: an email address or a Telegram chat id. */
  replyTo: string;
  subject: string | null;
  /** Threading data (Message-ID, References) or the Telegram message id the reply answers. */
  thread: Record<string, unknown>;
  requestText: string;
  rawBytes: number | null;
  rawHeaders: string | null;
  status: InboundStatus;
  attempts: number;
  lastError: string | null;
  leaseUntil: Date | null;
  owner: string | null;
  heartbeatAt: Date | null;
  isolated: boolean;
  crashes: number;
  retries: number;
  ambiguousSends: number;
  sendIntent: string | null;
  nextAttemptAt: Date;
  answerText: string | null;
  answerAction: string | null;
  replyMessageId: string | null;
  partsSent: number;
  receivedAt: Date;
  answeredAt: Date | null;
  repliedAt: Date | null;
  seenAt: Date | null;
}

/** A message about to be recorded: what a channel knows; the ledger fills in the rest. */
export type NewInboundMessage = Pick<InboundMessage, 'channel' | 'externalId' | 'username' | 'replyTo'> &
  Partial<Omit<InboundMessage, 'id'>>;

/** What the use case that takes a message to its end needs from the ledger; every write is fenced by the owner. */
export interface InboundWorkLedger {
  markAnswered(
    id: number,
    owner: string,
    answer: { text: string; action: string; replyMessageId: string | null },
  ): Promise<void>;
  markSending(id: number, owner: string, intent: string, ambiguous: boolean): Promise<void>;
  markNotSent(id: number, owner: string): Promise<void>;
  markPartsSent(id: number, owner: string, partsSent: number): Promise<void>;
  markReplied(id: number, owner: string, externalReplyId?: string): Promise<void>;
  markSkipped(id: number, owner: string, reason: string): Promise<void>;
  quarantine(id: number, owner: string, reason: string): Promise<void>;
  /** Returns the row's new status (quarantined once the attempts or the retry window are used up). */
  recordFailure(
    id: number,
    owner: string,
    failure: { error: string; delayMs: number; counts: boolean; maxAttempts: number; retryForMs: number },
  ): Promise<InboundStatus>;
  /** After an outage: messages waiting out its backoff are due now. Returns how many. */
  retryOutageWaitersNow(): Promise<number>;
  repliesSince(channel: string, username: string, since: Date): Promise<number>;
}

/** What operators do with the ledger: look, and send a message through again. */
export interface InboundOperatorLedger {
  list(filter: {
    status?: InboundStatus | undefined;
    channel?: string | undefined;
    beforeId?: number | undefined;
    limit: number;
  }): Promise<InboundMessage[]>;
  findById(id: number): Promise<InboundMessage | undefined>;
  /** Undefined when the message was not quarantined or skipped (any more). */
  requeue(id: number, note: string): Promise<InboundMessage | undefined>;
}

/** One POST /send, recorded by the caller's idempotency key. */
export interface OutboundMessage {
  id: number;
  status: 'pending' | 'sent' | 'failed';
  externalId: string | null;
}

export interface NewOutboundMessage {
  idempotencyKey: string;
  channel: 'email' | 'tg';
  recipient: string;
  subject: string | null;
  body: string;
}

/** POST /send bookkeeping: one record per caller key, leased while a send is in flight. */
export interface OutboundStore {
  /** Records the message if new; leases it unless it is sent or leased by another request. */
  claim(input: NewOutboundMessage, leaseMs: number): Promise<{ row: OutboundMessage; claimed: boolean }>;
  markSent(id: number, externalId: string | null): Promise<void>;
  release(id: number, error: string): Promise<void>;
}
