import { Telegram, TelegramError } from 'telegraf';
import type { Update, UserFromGetMe } from 'telegraf/types';
import { PermanentFailure, RetryableFailure } from '../domain/errors.js';

export interface TelegramBotClientOptions {
  token: string;
  apiRoot: string;
  /** sendMessage attempts on 429 before giving the row back to the ledger. */
  maxRateLimitRetries?: number;
  /** Longest retry_after honoured in place; longer waits go back to the ledger's backoff. */
  maxInlineWaitMs?: number;
}

type CallApiSignal = NonNullable<Parameters<Telegram['callApi']>[2]>['signal'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bot API calls through telegraf's client (apiRoot configurable for the test fake). */
export class TelegramBotClient {
  readonly telegram: Telegram;
  private me: UserFromGetMe | undefined;

  constructor(private readonly options: TelegramBotClientOptions) {
    this.telegram = new Telegram(options.token, { apiRoot: options.apiRoot });
  }

  /** The numeric bot id is the token's prefix: no API call needed to name the lock or checkpoint. */
  get botId(): string {
    return this.options.token.split(':')[0] ?? 'bot';
  }

  async getMe(): Promise<UserFromGetMe> {
    this.me ??= await this.telegram.getMe();
    return this.me;
  }

  get username(): string | undefined {
    return this.me?.username;
  }

  async getUpdates(offset: number, timeoutSeconds: number, signal: AbortSignal): Promise<Update[]> {
    return this.telegram.callApi(
      'getUpdates',
      { offset, timeout: timeoutSeconds, limit: 100, allowed_updates: ['message'] },
      // telegraf types its signal with the abort-controller polyfill; the global one is compatible at runtime.
      { signal: signal as unknown as CallApiSignal },
    );
  }

  async deleteWebhook(): Promise<void> {
    await this.telegram.deleteWebhook({ drop_pending_updates: false });
  }

  async setWebhook(url: string, secretToken: string | undefined): Promise<void> {
    await this.telegram.setWebhook(url, {
      allowed_updates: ['message'],
      ...(secretToken ? { secret_token: secretToken } : {}),
    });
  }

  /**
   * sendMessage honouring 429 retry_after in place (bounded), so split parts
   * keep their order. Maps failures to permanent (400/403: wrong chat, bot
   * blocked) or retryable (429 beyond the bound, 5xx, network).
   */
  async sendMessage(chatId: string, text: string, replyToMessageId?: number): Promise<number> {
    const maxRetries = this.options.maxRateLimitRetries ?? 5;
    const maxWait = this.options.maxInlineWaitMs ?? 60_000;
    for (let attempt = 0; ; attempt++) {
      try {
        const message = await this.telegram.sendMessage(chatId, text, {
          ...(replyToMessageId
            ? { reply_parameters: { message_id: replyToMessageId, allow_sending_without_reply: true } }
            : {}),
          link_preview_options: { is_disabled: true },
        });
        return message.message_id;
      } catch (error) {
        const retryAfterMs =
          error instanceof TelegramError && error.code === 429
            ? (error.parameters?.retry_after ?? 1) * 1000
            : undefined;
        if (retryAfterMs !== undefined && attempt < maxRetries && retryAfterMs <= maxWait) {
          await sleep(retryAfterMs);
          continue;
        }
        throw toFailure(error);
      }
    }
  }

  async sendTyping(chatId: string): Promise<void> {
    await this.telegram.sendChatAction(chatId, 'typing');
  }
}

/**
 * Maps a Bot API failure: 400/403 (wrong chat, bot blocked) are permanent; 429, 5xx, 401, network
 * retryable. An answer from the API (any TelegramError) proves the message was not sent; a network
 * failure does not.
 */
export function toFailure(error: unknown): Error {
  if (error instanceof TelegramError) {
    const notSent = { cause: error, notSent: true };
    if (error.code === 429) {
      const retryAfterMs = (error.parameters?.retry_after ?? 1) * 1000;
      return new RetryableFailure(
        `telegram rate limit: retry after ${retryAfterMs} ms`,
        retryAfterMs,
        notSent,
      );
    }
    if (error.code >= 500)
      return new RetryableFailure(`telegram ${error.code}: ${error.description}`, undefined, notSent);
    if (error.code === 401)
      return new RetryableFailure('telegram rejected the bot token (401)', undefined, notSent);
    return new PermanentFailure(`telegram ${error.code}: ${error.description}`, notSent);
  }
  return new RetryableFailure(`telegram call failed: ${(error as Error).message}`, undefined, {
    cause: error,
  });
}
