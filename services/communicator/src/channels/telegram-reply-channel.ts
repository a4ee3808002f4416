import { createHash } from 'node:crypto';
import type { Logger } from '@workemon/logger';
import type { TelegramBotClient } from '../clients/telegram-bot-client.js';
import type { InboundRow } from '../data/schema.js';
import type { ReplyChannel, SendHooks, SentCheck } from '../domain/process-inbound-message-use-case.js';
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

  /** The Bot API cannot list what a bot sent: a resend after an interrupted send is ambiguous. */
  async checkSent(): Promise<SentCheck> {
    return 'unknown';
  }

  /**
   * Sends the parts not sent yet, in order. The intent (chat, part, text hash) is stored right
   * before each sendMessage and the progress right after, so a crash resumes mid-answer and the
   * window in which a part may go out twice is one sendMessage round trip.
   */
  async deliver(row: InboundRow, answer: string, hooks: SendHooks): Promise<string> {
    const parts = splitMessage(answer);
    const replyTo = Number((row.thread as { messageId?: number }).messageId) || undefined;
    let lastId = '';
    for (let i = row.partsSent; i < parts.length; i++) {
      const text = parts[i] ?? '';
      const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
      await hooks.beforeSend(`${row.replyTo}:${i + 1}/${parts.length}:${digest}`);
      const id = await this.bot.sendMessage(row.replyTo, text, i === 0 ? replyTo : undefined);
      lastId = String(id);
      await hooks.afterPart(i + 1);
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
