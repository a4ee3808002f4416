import type { ConversationKey, OperatorReply } from '@workemon/contracts';
import { AppError, isAppError } from '@workemon/errors';
import type { Logger } from '@workemon/logger';
import type { CommunicatorClient } from '../clients/communicator-client.js';
import type { SecretaryClient } from '../clients/secretary-client.js';

export interface ReplyOutcome {
  status: 'sent' | 'duplicate' | 'sending';
  reply: OperatorReply;
}

/**
 * An operator's answer on the person's own channel: recorded in the secretary first (so history
 * shows it even if sending fails), sent through the communicator's idempotent /send with the
 * composed reply's key (a double click or a second tab sends nothing twice), then its outcome.
 */
export class ReplyByHandUseCase {
  constructor(
    private readonly deps: {
      secretary: SecretaryClient;
      communicator: CommunicatorClient;
      logger: Logger;
      onOutcome: (channel: string, outcome: 'sent' | 'duplicate' | 'failed') => void;
    },
  ) {}

  async execute(
    key: ConversationKey,
    input: { operator: string; text: string; idempotencyKey: string },
  ): Promise<ReplyOutcome> {
    const { secretary, communicator, logger } = this.deps;
    const reply = await secretary.recordReply(key, {
      operator: input.operator,
      text: input.text,
      idempotency_key: input.idempotencyKey,
    });
    if (!reply.created && reply.status === 'sent') {
      this.deps.onOutcome(key.channel, 'duplicate');
      return { status: 'duplicate', reply };
    }
    const { delivery } = reply;
    if (delivery.channel === 'direct' || !delivery.to) {
      const error = 'the person has no address on this channel (no Telegram chat id in the directory)';
      await secretary.replyOutcome(key, input.idempotencyKey, { status: 'failed', error });
      throw new AppError('UNPROCESSABLE', error);
    }
    try {
      const sent = await communicator.send({
        channel: delivery.channel,
        to: delivery.to,
        text: input.text,
        idempotency_key: `console-reply:${input.idempotencyKey}`,
        ...(delivery.in_reply_to ? { in_reply_to: delivery.in_reply_to } : {}),
      });
      await secretary.replyOutcome(key, input.idempotencyKey, {
        status: 'sent',
        external_id: sent.external_id,
      });
      this.deps.onOutcome(key.channel, sent.status);
      return { status: sent.status, reply: { ...reply, status: 'sent' } };
    } catch (error) {
      // Another request with this key is sending right now: that one records the outcome.
      if (isAppError(error) && error.code === 'CONFLICT') return { status: 'sending', reply };
      const message = error instanceof Error ? error.message : String(error);
      logger.warn(`operator reply not sent: ${message}`, {
        event: { action: 'operator-reply', outcome: 'failure' },
      });
      await secretary
        .replyOutcome(key, input.idempotencyKey, { status: 'failed', error: message.slice(0, 2000) })
        .catch(() => undefined);
      this.deps.onOutcome(key.channel, 'failed');
      throw error;
    }
  }
}
