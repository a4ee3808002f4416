import { ACTION_CLARIFY, type AnalysisResponse, type AnalyzeRequestInput } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import { createHash } from 'node:crypto';
import type { InboundMessage, InboundWorkLedger } from './ledger-ports.js';
import type { CommunicatorMetrics } from '../metrics.js';
import { OwnershipLost, PermanentFailure, provedNotSent, RetryableFailure } from './errors.js';

export interface SecretaryPort {
  analyze(input: AnalyzeRequestInput): Promise<AnalysisResponse>;
}

/** What a channel reports about a send a crash interrupted (the row was left 'sending'). */
export type SentCheck = 'sent' | 'not-sent' | 'unknown';

/** One outbound channel: delivers a stored answer for a ledger row. */
export interface ReplyChannel {
  /** Identifier fixed before sending (email Message-ID), stored with the answer. */
  plannedReplyId(row: InboundMessage): string | null;
  /**
   * The row was left 'sending' (its owner died, or the send failed without the
   * peer's answer): did the reply go out? Email looks in the sent folder for its
   * Message-ID; Telegram cannot know ('unknown': the resend is counted as ambiguous).
   */
  checkSent(row: InboundMessage): Promise<SentCheck>;
  /**
   * Sends the answer; resumable via row.partsSent. `beforeSend(intent)` must be
   * awaited right before each send (it records the intent); `afterPart(n)` after
   * each Telegram part. Returns the channel's id of what was sent.
   */
  deliver(row: InboundMessage, answer: string, hooks: SendHooks): Promise<string | undefined>;
  /** Shows the person we are working (Telegram "typing…"); returns a stop function. */
  whileWaiting?(row: InboundMessage): () => void;
  /** Marks the source message done in the channel (IMAP \Seen); best effort. */
  afterReply?(row: InboundMessage): void;
}

export interface SendHooks {
  beforeSend(intent: string): Promise<void>;
  afterPart(partsSent: number): Promise<void>;
}

export interface ProcessInboundOptions {
  maxAttempts: number;
  retryBaseMs: number;
  /** Longest pause between two retries of one row. */
  retryMaxMs: number;
  /** An outage is retried this long after the message arrived, then the row is quarantined. */
  retryForMs: number;
  mailRepliesPerHour: number;
}

const HOUR_MS = 3_600_000;

/** The ledger's reason for a message an operator answers by hand (the console tells these from problems). */
export const HELD_FOR_OPERATOR = 'held for an operator: the conversation is taken over';

/** The text the person receives: the clarifying question, or the answer ending with the documents it rests on. */
export function replyText(answer: AnalysisResponse): string {
  const primary = answer.action === ACTION_CLARIFY ? answer.question : answer.response;
  const text = (primary.trim() || answer.response.trim() || answer.question.trim()).trim();
  const sources = answer.action === ACTION_CLARIFY ? [] : (answer.sources ?? []);
  if (sources.length === 0) return text;
  const lines = sources.map((s) => `— ${s.title}${s.url ? ` (${s.url})` : ''}`);
  return `${text}\n\nИсточники:\n${lines.join('\n')}`;
}

/** Message ids longer than the secretary's limit are hashed, keeping them stable. */
export function secretaryMessageId(row: Pick<InboundMessage, 'channel' | 'externalId'>): string {
  return row.externalId.length <= 200
    ? row.externalId
    : `sha256:${createHash('sha256').update(row.externalId).digest('hex')}`;
}

/**
 * Takes one owned ledger row to its end state. Order matters for crash
 * safety: the secretary's answer is persisted (answered) before anything is
 * sent; the intent to send is persisted (sending) right before each send and
 * the result right after, each in its own short UPDATE; the source message is
 * marked seen last. A crash at any point resumes from the stored state: the
 * secretary's message_id idempotency covers a crash between its answer and our
 * UPDATE, and a row found 'sending' is checked with the channel before any
 * resend. Every UPDATE is fenced by the owner: a worker whose row was taken
 * over (it missed its heartbeats) stops before sending anything.
 */
export class ProcessInboundMessageUseCase {
  /** An analysis failed as an outage since the last successful one. */
  private secretaryOutage = false;

  constructor(
    private readonly deps: {
      ledger: InboundWorkLedger;
      secretary: SecretaryPort;
      channels: Partial<Record<string, ReplyChannel>>;
      metrics: CommunicatorMetrics;
      logger: Logger;
      options: ProcessInboundOptions;
      /** This process's owner id in the ledger. */
      owner: string;
      now?: () => Date;
    },
  ) {}

  /**
   * `onAnswered` fires once the secretary's answer is stored (at once for a row
   * resumed in 'answered'): the expensive part is over and only the delivery is
   * left, so the dispatcher can hand the slot to the next row.
   */
  async execute(row: InboundMessage, onAnswered?: () => void): Promise<void> {
    const { ledger, metrics, logger, owner } = this.deps;
    const channel = this.deps.channels[row.channel];
    const log = { 'communicator.inbound_id': row.id, 'communicator.channel': row.channel };
    try {
      if (!channel) throw new RetryableFailure(`channel ${row.channel} is not configured on this replica`);
      let current = row;
      if (current.answerText === null) {
        if (current.channel === 'email' && (await this.overRateLimit(current))) {
          await ledger.markSkipped(
            current.id,
            owner,
            `rate limited: over ${this.deps.options.mailRepliesPerHour} replies per hour`,
          );
          metrics.channelMessages.inc({ channel: current.channel, outcome: 'skipped' });
          logger.warn('sender over reply rate limit, not answering', log);
          return;
        }
        const stopWaiting = channel.whileWaiting?.(current);
        let answer: AnalysisResponse;
        try {
          answer = await this.deps.secretary.analyze({
            channel: current.channel === 'tg' ? 'tg' : 'email',
            username: current.username,
            request: current.requestText,
            message_id: secretaryMessageId(current),
          });
        } finally {
          stopWaiting?.();
        }
        if (this.secretaryOutage) await this.secretaryBack(log);
        if (answer.held_for_operator) {
          // An operator took the conversation over: the secretary kept the message for them.
          await ledger.markSkipped(current.id, owner, HELD_FOR_OPERATOR);
          metrics.channelMessages.inc({ channel: current.channel, outcome: 'skipped' });
          logger.info('held for an operator: not answering', log);
          return;
        }
        const text = replyText(answer);
        if (!text) throw new PermanentFailure('secretary returned neither a question nor a response');
        const plannedId = channel.plannedReplyId(current);
        await ledger.markAnswered(current.id, owner, {
          text,
          action: answer.action,
          replyMessageId: plannedId,
        });
        current = {
          ...current,
          status: 'answered',
          answerText: text,
          answerAction: answer.action,
          replyMessageId: plannedId,
        };
      }
      onAnswered?.();
      let ambiguous = false;
      if (current.status === 'sending') {
        // A send was under way when the last owner died or the send broke off: find out first.
        const check = await channel.checkSent(current);
        metrics.sentChecks.inc({ channel: current.channel, result: check });
        logger.info(`interrupted send checked: ${check}`, { ...log, 'communicator.sent_check': check });
        if (check === 'sent') {
          await this.replied(current, channel, undefined, log);
          return;
        }
        ambiguous = check === 'unknown';
      }
      const sentId = await this.deliver(current, channel, ambiguous, log);
      await this.replied(current, channel, current.replyMessageId ? undefined : sentId, log);
    } catch (error) {
      await this.fail(row, error, log);
    }
  }

  private async deliver(
    row: InboundMessage,
    channel: ReplyChannel,
    ambiguous: boolean,
    log: Record<string, unknown>,
  ): Promise<string | undefined> {
    const { ledger, metrics, logger, owner } = this.deps;
    let resendUnproven = ambiguous;
    let sending = false;
    try {
      return await channel.deliver(row, row.answerText ?? '', {
        beforeSend: async (intent) => {
          await ledger.markSending(row.id, owner, intent, resendUnproven);
          sending = true;
          if (resendUnproven) {
            metrics.ambiguousSends.inc({ channel: row.channel });
            logger.warn('resending a reply that may already have been delivered (no way to check)', {
              ...log,
              event: { action: 'ambiguous-send' },
            });
          }
          resendUnproven = false;
        },
        afterPart: async (partsSent) => {
          await ledger.markPartsSent(row.id, owner, partsSent);
          sending = false;
        },
      });
    } catch (error) {
      // The channel refused (it answered with an error): nothing went out, no check needed next time.
      if (sending && provedNotSent(error)) await ledger.markNotSent(row.id, owner);
      throw error;
    }
  }

  private async replied(
    row: InboundMessage,
    channel: ReplyChannel,
    externalReplyId: string | undefined,
    log: Record<string, unknown>,
  ): Promise<void> {
    const { ledger, metrics, logger, owner } = this.deps;
    await ledger.markReplied(row.id, owner, externalReplyId);
    metrics.channelMessages.inc({ channel: row.channel, outcome: 'replied' });
    metrics.replyLatency.observe(
      { channel: row.channel },
      Math.max(0, (Date.now() - new Date(row.receivedAt).getTime()) / 1000),
    );
    logger.info('replied', { ...log, 'communicator.action': row.answerAction ?? undefined });
    channel.afterReply?.(row);
  }

  /**
   * The secretary answers again: whatever waited out its outage retries now rather than after its
   * own (exponentially grown) backoff, so a short outage (a restart) costs seconds, not minutes.
   */
  private async secretaryBack(log: Record<string, unknown>): Promise<void> {
    this.secretaryOutage = false;
    try {
      const n = await this.deps.ledger.retryOutageWaitersNow();
      if (n > 0) this.deps.logger.info(`secretary answers again: ${n} waiting messages retried now`, log);
    } catch (error) {
      this.deps.logger.warn(`could not pull waiting retries forward: ${(error as Error).message}`, log);
    }
  }

  private async overRateLimit(row: InboundMessage): Promise<boolean> {
    const now = this.deps.now?.() ?? new Date();
    const sent = await this.deps.ledger.repliesSince(
      row.channel,
      row.username,
      new Date(now.getTime() - HOUR_MS),
    );
    return sent >= this.deps.options.mailRepliesPerHour;
  }

  private async fail(row: InboundMessage, error: unknown, log: Record<string, unknown>): Promise<void> {
    const { ledger, metrics, logger, options, owner } = this.deps;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof OwnershipLost) {
      // Another worker has the row now: it decides; writing anything here would undo its work.
      metrics.ownershipLost.inc({ channel: row.channel });
      logger.warn(message, log);
      return;
    }
    try {
      if (error instanceof PermanentFailure) {
        await ledger.quarantine(row.id, owner, message);
        metrics.failures.inc({ channel: row.channel, kind: 'permanent' });
        metrics.channelMessages.inc({ channel: row.channel, outcome: 'quarantined' });
        metrics.quarantined.inc({ channel: row.channel });
        logger.error(`quarantined: ${message}`, log);
        return;
      }
      // Only a failure of the message itself uses an attempt; an outage (RetryableFailure) only
      // backs off. Anything unclassified (a bug this message triggers) counts, so it cannot loop.
      const counts = !(error instanceof RetryableFailure);
      const kind = counts ? 'message' : 'outage';
      if (!counts && row.answerText === null) this.secretaryOutage = true;
      metrics.failures.inc({ channel: row.channel, kind });
      // Jittered exponential backoff, capped; a peer's retry-after wins when it is longer.
      const step = counts ? row.attempts : row.retries;
      const exponential = Math.min(options.retryBaseMs * 2 ** Math.min(step, 20), options.retryMaxMs);
      const jittered = exponential / 2 + Math.random() * (exponential / 2);
      const delay = Math.max(jittered, error instanceof RetryableFailure ? (error.retryAfterMs ?? 0) : 0);
      const status = await ledger.recordFailure(row.id, owner, {
        error: message,
        delayMs: delay,
        counts,
        maxAttempts: options.maxAttempts,
        retryForMs: options.retryForMs,
      });
      if (status === 'quarantined') {
        metrics.channelMessages.inc({ channel: row.channel, outcome: 'quarantined' });
        metrics.quarantined.inc({ channel: row.channel });
        logger.error(`quarantined: gave up (${kind}; last error: ${message})`, log);
      } else {
        metrics.channelMessages.inc({ channel: row.channel, outcome: 'retried' });
        logger.warn(`attempt failed (${kind}), retrying in ${Math.round(delay)} ms: ${message}`, {
          ...log,
          'communicator.failure_kind': kind,
        });
      }
    } catch (ledgerError) {
      // The database is down too (or the row was taken over): the heartbeat lapses and the row
      // is taken over again later.
      logger.error(`could not record failure: ${(ledgerError as Error).message}`, log);
    }
  }
}
