import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { loadConfig } from '@workemon/config';
import {
  createServiceMetrics,
  exitOnStartupError,
  HealthRegistry,
  installGracefulShutdown,
  listen,
  warnWhenAuthDisabled,
} from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { sql } from 'drizzle-orm';
import { createApp } from './app.js';
import type { EmailInboxWorker } from './channels/email-inbox-worker.js';
import { LedgerDispatcher } from './channels/ledger-dispatcher.js';
import type { recordUpdates as RecordUpdates, TelegramPoller } from './channels/telegram-poller.js';
import type { ImapSentFolder } from './clients/imap-sent-folder.js';
import { SecretaryClient } from './clients/secretary-client.js';
import type { SmtpMailer } from './clients/smtp-mailer.js';
import type { TelegramBotClient } from './clients/telegram-bot-client.js';
import { type Config, configSchema, emailEnabled, telegramEnabled } from './config.js';
import { CheckpointRepository } from './data/checkpoint-repository.js';
import { createDatabase } from './data/db.js';
import { InboundLedgerRepository } from './data/inbound-ledger-repository.js';
import { OutboundRepository } from './data/outbound-repository.js';
import {
  ProcessInboundMessageUseCase,
  type ReplyChannel,
} from './domain/process-inbound-message-use-case.js';
import { InboundOperatorUseCases } from './domain/inbound-operator-use-cases.js';
import { SendMessageUseCase } from './domain/send-message-use-case.js';
import { telegramWebhookRouter } from './http/telegram-webhook.js';
import { createCommunicatorMetrics } from './metrics.js';

const SERVICE = 'ai-communicator';
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

async function main(config: Config, logger: Logger): Promise<void> {
  const database = createDatabase(
    config.DATABASE_URL,
    logger,
    config.DATABASE_POOL_MAX ?? Math.max(10, config.COMMUNICATOR_CONCURRENCY + 5),
  );
  const ledger = new InboundLedgerRepository(database.db);
  const checkpoints = new CheckpointRepository(database.db);
  const outbound = new OutboundRepository(database.db);

  const serviceMetrics = createServiceMetrics(SERVICE, VERSION);
  const metrics = createCommunicatorMetrics(serviceMetrics, () => ledger.stats());
  // Owner of the ledger rows this process works on: unique per process, readable in the table.
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const health = new HealthRegistry(SERVICE, VERSION, serviceMetrics);

  const secretary = new SecretaryClient({
    baseURL: config.SECRETARY_URL,
    timeoutMs: config.SECRETARY_TIMEOUT_MS,
    serviceToken: config.SERVICE_TOKEN,
    metrics: serviceMetrics,
  });

  const channels: Partial<Record<string, ReplyChannel>> = {};
  // The use case reads `channels` when it processes a row, so channels can be registered below.
  const useCase = new ProcessInboundMessageUseCase({
    ledger,
    secretary,
    channels,
    metrics,
    logger,
    owner,
    options: {
      maxAttempts: config.COMMUNICATOR_MAX_ATTEMPTS,
      retryBaseMs: config.COMMUNICATOR_RETRY_BASE_MS,
      retryMaxMs: config.COMMUNICATOR_RETRY_MAX_MS,
      retryForMs: config.COMMUNICATOR_RETRY_FOR_MS,
      mailRepliesPerHour: config.MAIL_REPLY_RATE_PER_HOUR,
    },
  });
  const dispatcher = new LedgerDispatcher({
    ledger,
    useCase,
    owner,
    concurrency: config.COMMUNICATOR_CONCURRENCY,
    leaseMs: config.COMMUNICATOR_LEASE_MS,
    heartbeatMs: config.COMMUNICATOR_HEARTBEAT_MS,
    maxAttempts: config.COMMUNICATOR_MAX_ATTEMPTS,
    logger,
    metrics,
  });

  const onNewWork = () => dispatcher.wake();

  // ---- email ----
  let mailer: SmtpMailer | undefined;
  let inbox: EmailInboxWorker | undefined;
  let sentFolder: ImapSentFolder | undefined;
  if (emailEnabled(config) && config.IMAP_USER && config.IMAP_PASSWORD && config.MAIL_FROM) {
    // The mail libraries (imapflow, mailparser, nodemailer: ~0.4 s of CPU and ~50 MB at start)
    // load only when mail is configured.
    const [{ SmtpMailer }, { EmailInboxWorker }, { ImapSentFolder }, { EmailReplyChannel }] =
      await Promise.all([
        import('./clients/smtp-mailer.js'),
        import('./channels/email-inbox-worker.js'),
        import('./clients/imap-sent-folder.js'),
        import('./channels/email-reply-channel.js'),
      ]);
    const imapConnection = {
      host: config.IMAP_HOST,
      port: config.IMAP_PORT,
      secure: config.IMAP_SECURE,
      user: config.IMAP_USER,
      password: config.IMAP_PASSWORD,
      rejectUnauthorized: config.IMAP_TLS_REJECT_UNAUTHORIZED,
    };
    mailer = new SmtpMailer({
      host: config.SMTP_HOST,
      port: config.SMTP_PORT,
      secure: config.SMTP_SECURE,
      user: config.SMTP_USER,
      password: config.SMTP_PASSWORD,
      from: config.MAIL_FROM,
      rejectUnauthorized: config.SMTP_TLS_REJECT_UNAUTHORIZED,
      maxConnections: Math.min(config.COMMUNICATOR_CONCURRENCY, 10),
    });
    inbox = new EmailInboxWorker({
      options: {
        connection: imapConnection,
        mailbox: config.IMAP_MAILBOX,
        pollIntervalMs: config.IMAP_POLL_INTERVAL_MS,
        firstStart: config.IMAP_FIRST_START,
        maxRequestChars: config.MAX_REQUEST_CHARS,
        maxParseCrashes: config.COMMUNICATOR_MAX_ATTEMPTS,
        testCrashMarker: config.COMMUNICATOR_TEST_CRASH_MARKER,
        ownAddresses: [
          ...new Set(
            [config.MAIL_FROM, config.IMAP_USER, config.SMTP_USER].flatMap((a) =>
              a ? [a.toLowerCase()] : [],
            ),
          ),
        ],
      },
      ledger,
      checkpoints,
      metrics,
      logger,
      onNewWork,
    });
    const inboxWorker = inbox;
    sentFolder = new ImapSentFolder({
      ...imapConnection,
      mailbox: config.IMAP_SENT_MAILBOX,
      create: config.IMAP_SENT_APPEND,
      onError: (error) => logger.warn(`sent folder connection error: ${error.message}`),
    });
    channels.email = new EmailReplyChannel(
      mailer,
      { folder: sentFolder, appendAfterSend: config.IMAP_SENT_APPEND },
      logger,
      () => inboxWorker.requestSeenFlush(),
    );
    if (config.COMMUNICATOR_TEST_CRASH_MARKER)
      logger.warn(
        'COMMUNICATOR_TEST_CRASH_MARKER is set: mails containing it crash this process (test only)',
      );
  }

  // ---- telegram ----
  let bot: TelegramBotClient | undefined;
  let poller: TelegramPoller | undefined;
  let webhookReady = false;
  let recordUpdates: typeof RecordUpdates | undefined;
  if (telegramEnabled(config) && config.TELEGRAM_BOT_TOKEN) {
    // telegraf loads only when a bot is configured (start-up time, idle memory).
    const [{ TelegramBotClient }, { TelegramReplyChannel }, telegramPoller] = await Promise.all([
      import('./clients/telegram-bot-client.js'),
      import('./channels/telegram-reply-channel.js'),
      import('./channels/telegram-poller.js'),
    ]);
    const { TelegramPoller } = telegramPoller;
    recordUpdates = telegramPoller.recordUpdates;
    bot = new TelegramBotClient({ token: config.TELEGRAM_BOT_TOKEN, apiRoot: config.TELEGRAM_API_ROOT });
    channels.tg = new TelegramReplyChannel(bot, logger);
    if (config.TELEGRAM_MODE === 'polling') {
      poller = new TelegramPoller({
        databaseUrl: config.DATABASE_URL,
        bot,
        ledger,
        checkpoints,
        metrics,
        logger,
        pollTimeoutSeconds: config.TELEGRAM_POLL_TIMEOUT_S,
        leaderRetryMs: config.TELEGRAM_LEADER_RETRY_MS,
        maxChars: config.MAX_REQUEST_CHARS,
        onNewWork,
      });
    }
  }

  // ---- health ----
  health.register({
    name: 'database',
    critical: true,
    run: async () => {
      await database.db.execute(sql`select 1`);
      return { status: 'ok' };
    },
  });
  health.register({
    name: 'imap',
    run: () => inbox?.health() ?? { status: 'disabled', detail: 'IMAP_USER/IMAP_PASSWORD not set' },
  });
  health.register({
    name: 'smtp',
    run: async () => {
      if (!mailer) return { status: 'disabled', detail: 'no SMTP credentials' };
      const result = await mailer.verify();
      return result.ok ? { status: 'ok' } : { status: 'degraded', detail: result.detail ?? 'verify failed' };
    },
  });
  health.register({
    name: 'telegram',
    run: () => {
      if (!bot) return { status: 'disabled', detail: 'TELEGRAM_BOT_TOKEN not set' };
      if (poller) return poller.health();
      return webhookReady
        ? { status: 'ok', detail: 'webhook' }
        : { status: 'degraded', detail: 'webhook not registered' };
    },
  });
  health.register({
    name: 'secretary',
    run: async () => {
      const ping = await secretary.ping();
      return ping.ok
        ? { status: 'ok' }
        : { status: 'degraded', detail: ping.detail ?? `HTTP ${ping.status}` };
    },
  });

  const sendMessage = new SendMessageUseCase({ outbound, email: mailer, telegram: bot, mailThreads: ledger });
  const inboundOperator = new InboundOperatorUseCases({ ledger, logger, onRequeued: onNewWork });
  const telegramBot = bot;
  const recordTelegramUpdates = recordUpdates;
  const app = createApp({
    service: SERVICE,
    version: VERSION,
    logger,
    metrics: serviceMetrics,
    health,
    authKeys: config.SERVICE_TOKEN ? [config.SERVICE_TOKEN] : [],
    sendMessage,
    inbound: inboundOperator,
    ...(telegramBot && recordTelegramUpdates && config.TELEGRAM_MODE === 'webhook'
      ? {
          telegramWebhook: telegramWebhookRouter({
            secretToken: config.TELEGRAM_WEBHOOK_SECRET,
            logger,
            record: async (update) => {
              if (
                (await recordTelegramUpdates([update], {
                  bot: telegramBot,
                  ledger,
                  metrics,
                  maxChars: config.MAX_REQUEST_CHARS,
                })) > 0
              ) {
                onNewWork();
              }
            },
          }),
        }
      : {}),
  });
  warnWhenAuthDisabled(config, logger);

  const server = await listen(app, config.PORT, config.HOST);
  logger.info(`${SERVICE} listening on ${config.HOST}:${config.PORT}`, {
    'communicator.email': Boolean(inbox),
    'communicator.telegram': bot ? config.TELEGRAM_MODE : 'disabled',
  });

  dispatcher.start();
  inbox?.start();
  poller?.start();
  if (telegramBot && config.TELEGRAM_MODE === 'webhook' && config.TELEGRAM_WEBHOOK_URL) {
    telegramBot
      .setWebhook(config.TELEGRAM_WEBHOOK_URL, config.TELEGRAM_WEBHOOK_SECRET)
      .then(() => {
        webhookReady = true;
      })
      .catch((error: unknown) => logger.error(`setWebhook failed: ${(error as Error).message}`));
  }

  installGracefulShutdown({
    server,
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers: [
      // Pollers first (no new work), then the in-flight rows drain, then connections close.
      { name: 'telegram-poller', close: () => poller?.stop() },
      { name: 'imap', close: () => inbox?.stop() },
      { name: 'ledger-dispatcher', close: () => dispatcher.stop() },
      { name: 'smtp', close: () => mailer?.close() },
      { name: 'sent-folder', close: () => sentFolder?.close() },
      { name: 'secretary-client', close: () => secretary.close() },
      { name: 'postgres', close: () => database.close() },
    ],
  });
}

let logger: Logger | undefined;
try {
  const config = loadConfig(configSchema);
  logger = createLogger({ service: SERVICE, version: VERSION, level: config.LOG_LEVEL });
  await main(config, logger);
} catch (error) {
  exitOnStartupError(error, logger);
}
