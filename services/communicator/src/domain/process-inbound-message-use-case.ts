import { ACTION_CLARIFY, type AnalysisResponse, type AnalyzeRequestInput } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import { createHash } from 'node:crypto';
import type { InboundLedgerRepository } from '../data/inbound-ledger-repository.js';
import type { InboundRow } from '../data/schema.js';
import type { CommunicatorMetrics } from '../metrics.js';
import { PermanentFailure, RetryableFailure } from './errors.js';

export interface SecretaryPort {
  analyze(input: AnalyzeRequestInput): Promise<AnalysisResponse>;
}

/** One outbound channel: delivers a stored answer for a ledger row. */
export interface ReplyChannel {
  /** Identifier fixed before sending (email Message-ID), stored with the answer. */
  plannedReplyId(row: InboundRow): string | null;
  /** Sends the answer; resumable via row.partsSent. Returns the channel's id of what was sent. */
  deliver(
    row: InboundRow,
    answer: string,
    onPartSent: (partsSent: number) => Promise<void>,
  ): Promise<string | undefined>;
  /** Shows the person we are working (Telegram "typing…"); returns a stop function. */
  whileWaiting?(row: InboundRow): () => void;
  /** Marks the source message done in the channel (IMAP \Seen); best effort. */
  afterReply?(row: InboundRow): void;
}

export interface ProcessInboundOptions {
  maxAttempts: number;
  retryBaseMs: number;
  mailRepliesPerHour: number;
}

const HOUR_MS = 3_600_000;

/** The ledger's reason for a message an operator answers by hand (the console tells these from problems). */
export const HELD_FOR_OPERATOR = 'held for an operator: the conversation is taken over';

/** The text the person receives: the clarifying question, or the answer. */
export function replyText(answer: AnalysisResponse): string {
  const primary = answer.action === ACTION_CLARIFY ? answer.question : answer.response;
  return (primary.trim() || answer.response.trim() || answer.question.trim()).trim();
}

/** Message ids longer than the secretary's limit are hashed, keeping them stable. */
export function secretaryMessageId(row: Pick<InboundRow, 'channel' | 'externalId'>): string {
  return row.externalId.length <= 200
    ? row.externalId
    : `sha256:${createHash('sha256').update(row.externalId).digest('hex')}`;
}

/**
 * Takes one leased ledger row to its end state. Order matters for crash
 * safety: the secretary's answer is persisted (answered) before anything is
 * sent, the row becomes replied only after the channel accepted the reply, and
 * the source message is marked seen last. A crash at any point resumes from
 * the stored state; the secretary's message_id idempotency covers a crash
 * between its answer and our UPDATE.
 */
export class ProcessInboundMessageUseCase {
  constructor(
    private readonly deps: {
      ledger: InboundLedgerRepository;
      secretary: SecretaryPort;
      channels: Partial<Record<string, ReplyChannel>>;
      metrics: CommunicatorMetrics;
      logger: Logger;
      options: ProcessInboundOptions;
      now?: () => Date;
    },
  ) {}

  /**
   * `onAnswered` fires once the secretary's answer is stored (at once for a row
   * resumed in 'answered'): the expensive part is over and only the delivery is
   * left, so the dispatcher can hand the slot to the next row.
   */
  async execute(row: InboundRow, onAnswered?: () => void): Promise<void> {
    const { ledger, metrics, logger } = this.deps;
    const channel = this.deps.channels[row.channel];
    const log = { 'communicator.inbound_id': row.id, 'communicator.channel': row.channel };
    try {
      if (!channel) throw new RetryableFailure(`channel ${row.channel} is not configured on this replica`);
      let current = row;
      if (current.status !== 'answered' || current.answerText === null) {
        if (current.channel === 'email' && (await this.overRateLimit(current))) {
          await ledger.markSkipped(
            current.id,
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
        if (answer.held_for_operator) {
          // An operator took the conversation over: the secretary kept the message for them.
          await ledger.markSkipped(current.id, HELD_FOR_OPERATOR);
          metrics.channelMessages.inc({ channel: current.channel, outcome: 'skipped' });
          logger.info('held for an operator: not answering', log);
          return;
        }
        const text = replyText(answer);
        if (!text) throw new PermanentFailure('secretary returned neither a question nor a response');
        const plannedId = channel.plannedReplyId(current);
        await ledger.markAnswered(current.id, { text, action: answer.action, replyMessageId: plannedId });
        current = {
          ...current,
          status: 'answered',
          answerText: text,
          answerAction: answer.action,
          replyMessageId: plannedId,
        };
      }
      onAnswered?.();
      const sentId = await channel.deliver(current, current.answerText ?? '', (n) =>
        ledger.markPartsSent(current.id, n),
      );
      await ledger.markReplied(current.id, current.replyMessageId ? undefined : sentId);
      metrics.channelMessages.inc({ channel: current.channel, outcome: 'replied' });
      metrics.replyLatency.observe(
        { channel: current.channel },
        Math.max(0, (Date.now() - new Date(current.receivedAt).getTime()) / 1000),
      );
      logger.info('replied', { ...log, 'communicator.action': current.answerAction ?? undefined });
      channel.afterReply?.(current);
    } catch (error) {
      await this.fail(row, error, log);
    }
  }

  private async overRateLimit(row: InboundRow): Promise<boolean> {
    const now = this.deps.now?.() ?? new Date();
    const sent = await this.deps.ledger.repliesSince(
      row.channel,
      row.username,
      new Date(now.getTime() - HOUR_MS),
    );
    return sent >= this.deps.options.mailRepliesPerHour;
  }

  private async fail(row: InboundRow, error: unknown, log: Record<string, unknown>): Promise<void> {
    const { ledger, metrics, logger, options } = this.deps;
    const message = error instanceof Error ? error.message : String(error);
    try {
      if (error instanceof PermanentFailure) {
        await ledger.quarantine(row.id, message);
        metrics.channelMessages.inc({ channel: row.channel, outcome: 'quarantined' });
        metrics.quarantined.inc({ channel: row.channel });
        logger.error(`quarantined: ${message}`, log);
        return;
      }
      // Jittered exponential backoff; a peer's retry-after wins when it is longer.
      // row.attempts already counts this attempt (counted when the row was claimed).
      const exponential = options.retryBaseMs * 2 ** Math.min(Math.max(row.attempts - 1, 0), 8);
      const jittered = exponential / 2 + Math.random() * (exponential / 2);
      const delay = Math.max(jittered, error instanceof RetryableFailure ? (error.retryAfterMs ?? 0) : 0);
      const status = await ledger.recordFailure(row.id, message, delay, options.maxAttempts);
      if (status === 'quarantined') {
        metrics.channelMessages.inc({ channel: row.channel, outcome: 'quarantined' });
        metrics.quarantined.inc({ channel: row.channel });
        logger.error(`quarantined: gave up after ${row.attempts} attempts (last error: ${message})`, log);
      } else {
        metrics.channelMessages.inc({ channel: row.channel, outcome: 'retried' });
        logger.warn(`attempt failed, retrying in ${Math.round(delay)} ms: ${message}`, log);
      }
    } catch (ledgerError) {
      // The database is down too: the lease expires and the row is picked up again later.
      logger.error(`could not record failure: ${(ledgerError as Error).message}`, log);
    }
  }
}
