import type { Logger } from '@workemon/logger';
import type { TelegramBotClient } from '../clients/telegram-bot-client.js';
import type { InboundRow } from '../data/schema.js';
import type { ReplyChannel } from '../domain/process-inbound-message-use-case.js';
import { splitMessage } from '../domain/split-message.js';

/** Telegram shows "typing…" for about 5 s per chat action. */
const TYPING_REFRESH_MS = 4_500;

export class TelegramReplyChannel implements ReplyChannel {
  constructor(
    private readonly bot: TelegramBotClient,
    private readonly logger: Logger,
  ) {}

  plannedReplyId(): null {
    return null;
  }

  /** Sends the parts not sent yet, in order; progress is stored after each so a crash resumes mid-answer. */
  async deliver(
    row: InboundRow,
    answer: string,
    onPartSent: (partsSent: number) => Promise<void>,
  ): Promise<string> {
    const parts = splitMessage(answer);
    const replyTo = Number((row.thread as { messageId?: number }).messageId) || undefined;
    let lastId = '';
    for (let i = row.partsSent; i < parts.length; i++) {
      const id = await this.bot.sendMessage(row.replyTo, parts[i] ?? '', i === 0 ? replyTo : undefined);
      lastId = String(id);
      await onPartSent(i + 1);
    }
    return lastId;
  }

  whileWaiting(row: InboundRow): () => void {
    const send = () =>
      void this.bot.sendTyping(row.replyTo).catch((error: unknown) => {
        this.logger.debug(`sendChatAction failed: ${(error as Error).message}`);
      });
    send();
    const timer = setInterval(send, TYPING_REFRESH_MS);
    return () => clearInterval(timer);
  }
}
