import type { Channel } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import { truncateForLog } from '@workemon/logger';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { NotifierPort } from './ports.js';

export interface EscalationNotice {
  channel: Channel;
  username: string;
  displayName: string;
  request: string;
  /** message_id when the caller gave one, else the request id: the same exchange never notifies twice. */
  exchangeKey: string;
  conversationId: string | null;
}

export interface EscalationNotifierOptions {
  notifier: NotifierPort;
  /** Telegram chat of the support team that takes escalations. */
  chatId: string;
  logger: Logger;
}

// The communicator dedupes by idempotency_key, so retrying a notification is safe.
const notifyRetry = retry(handleAll, {
  maxAttempts: 2, // retries: three sends at most
  backoff: new ExponentialBackoff({ initialDelay: 500, maxDelay: 5_000 }),
});

/**
 * `написать в telegram сотруднику`: tells the support team's Telegram chat that a person
 * needs a human. Runs after the exchange is stored and never delays the person's answer.
 */
export class EscalationNotifier {
  private readonly inFlight = new Set<Promise<boolean>>();

  constructor(private readonly options: EscalationNotifierOptions) {}

  /** Starts a notification in the background; shutdown waits for it with drain(). */
  start(notice: EscalationNotice): void {
    const pending = this.notify(notice).finally(() => this.inFlight.delete(pending));
    this.inFlight.add(pending);
  }

  async drain(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  async notify(notice: EscalationNotice): Promise<boolean> {
    const header = `Нужен сотрудник: ${notice.displayName} (${notice.username}), канал ${notice.channel}.`;
    const conversation = notice.conversationId ? `\nДиалог: ${notice.conversationId}` : '';
    const text = `${header}${conversation}\n\n${truncateForLog(notice.request, 3000)}`;
    try {
      await notifyRetry.execute(() =>
        this.options.notifier.send({
          channel: 'tg',
          to: this.options.chatId,
          text,
          idempotency_key: `escalation:${notice.channel}:${notice.exchangeKey}`,
        }),
      );
      this.options.logger.info('escalation sent to the support chat', {
        event: { action: 'escalation-notify', outcome: 'success' },
        user: { name: notice.username },
      });
      return true;
    } catch (error) {
      this.options.logger.error(`escalation could not be delivered: ${(error as Error).message}`, {
        event: { action: 'escalation-notify', outcome: 'failure' },
        user: { name: notice.username },
      });
      return false;
    }
  }
}
