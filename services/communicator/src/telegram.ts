import type { HealthCheckResult } from '@workemon/contracts';
import type { Router } from 'express';
import type { TelegramPoller } from './channels/telegram-poller.js';
import type { TelegramBotClient } from './clients/telegram-bot-client.js';
import type { ChannelDeps } from './channel-deps.js';
import type { Config } from './config.js';
import type { ReplyChannel } from './domain/process-inbound-message-use-case.js';
import { telegramWebhookRouter } from './http/telegram-webhook.js';

/** Telegram both ways: updates in by long polling or webhook, messages out through the bot. */
export interface TelegramChannel {
  bot: TelegramBotClient;
  reply: ReplyChannel;
  /** In webhook mode: the route Telegram posts updates to (mounted ahead of bearer auth). */
  webhook: Router | undefined;
  /** Starts polling, or registers the webhook when TELEGRAM_WEBHOOK_URL is set. */
  start(): void;
  /** Stops polling (no new work). */
  stopIntake(): Promise<void>;
  health(): HealthCheckResult;
}

/** The Telegram channel when TELEGRAM_BOT_TOKEN is set; undefined otherwise. */
export async function createTelegramChannel(
  config: Config,
  deps: ChannelDeps,
): Promise<TelegramChannel | undefined> {
  if (!config.TELEGRAM_BOT_TOKEN) return undefined;
  const { ledger, metrics, logger, onNewWork } = deps;
  // telegraf loads only when a bot is configured (start-up time, idle memory).
  const [{ TelegramBotClient }, { TelegramReplyChannel }, { TelegramPoller, recordUpdates }] =
    await Promise.all([
      import('./clients/telegram-bot-client.js'),
      import('./channels/telegram-reply-channel.js'),
      import('./channels/telegram-poller.js'),
    ]);
  const bot = new TelegramBotClient({ token: config.TELEGRAM_BOT_TOKEN, apiRoot: config.TELEGRAM_API_ROOT });
  const webhookMode = config.TELEGRAM_MODE === 'webhook';
  const poller: TelegramPoller | undefined = webhookMode
    ? undefined
    : new TelegramPoller({
        databaseUrl: config.DATABASE_URL,
        bot,
        ledger,
        checkpoints: deps.checkpoints,
        metrics,
        logger,
        pollTimeoutSeconds: config.TELEGRAM_POLL_TIMEOUT_S,
        leaderRetryMs: config.TELEGRAM_LEADER_RETRY_MS,
        maxChars: config.MAX_REQUEST_CHARS,
        onNewWork,
      });
  const webhook = webhookMode
    ? telegramWebhookRouter({
        secretToken: config.TELEGRAM_WEBHOOK_SECRET,
        logger,
        record: async (update) => {
          const recorded = await recordUpdates([update], {
            bot,
            ledger,
            metrics,
            maxChars: config.MAX_REQUEST_CHARS,
          });
          if (recorded > 0) onNewWork();
        },
      })
    : undefined;
  let webhookReady = false;
  return {
    bot,
    reply: new TelegramReplyChannel(bot, logger),
    webhook,
    start: () => {
      poller?.start();
      if (webhookMode && config.TELEGRAM_WEBHOOK_URL) {
        bot
          .setWebhook(config.TELEGRAM_WEBHOOK_URL, config.TELEGRAM_WEBHOOK_SECRET)
          .then(() => {
            webhookReady = true;
          })
          .catch((error: unknown) => logger.error(`setWebhook failed: ${(error as Error).message}`));
      }
    },
    stopIntake: async () => {
      await poller?.stop();
    },
    health: () => {
      if (poller) return poller.health();
      return webhookReady
        ? { status: 'ok', detail: 'webhook' }
        : { status: 'degraded', detail: 'webhook not registered' };
    },
  };
}
