import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  createServiceMetrics,
  HealthRegistry,
  type RunningService,
  serve,
  warnWhenAuthDisabled,
} from '@workemon/http-kit';
import { createLogger, type Logger } from '@workemon/logger';
import { createApp } from './app.js';
import { LedgerDispatcher } from './channels/ledger-dispatcher.js';
import { SecretaryClient } from './clients/secretary-client.js';
import type { Config } from './config.js';
import { CheckpointRepository } from './data/checkpoint-repository.js';
import { createDatabase, type DatabaseHandle } from './data/db.js';
import { InboundLedgerRepository } from './data/inbound-ledger-repository.js';
import { OutboundRepository } from './data/outbound-repository.js';
import { InboundOperatorUseCases } from './domain/inbound-operator-use-cases.js';
import {
  ProcessInboundMessageUseCase,
  type ReplyChannel,
} from './domain/process-inbound-message-use-case.js';
import { SendMessageUseCase } from './domain/send-message-use-case.js';
import { createEmailChannel } from './email.js';
import { registerHealthChecks } from './health-checks.js';
import { createCommunicatorMetrics } from './metrics.js';
import { createTelegramChannel } from './telegram.js';

export const SERVICE_NAME = 'ai-communicator';
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** What tests may replace; everything else (the secretary's, IMAP's, Telegram's addresses) comes from config. */
export interface StartOverrides {
  logger?: Logger;
}

export interface RunningCommunicator extends RunningService {
  database: DatabaseHandle;
  /** Owner of the ledger rows this process works on. */
  owner: string;
}

export function serviceLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return createLogger({ service: SERVICE_NAME, version: VERSION, level: config.LOG_LEVEL });
}

/**
 * The communicator, wired and listening on config's HOST:PORT: main.ts and the tests both start it
 * here. Channels record inbound messages into the ledger; the dispatcher works the ledger through
 * the secretary and answers on the message's own channel.
 */
export async function startService(
  config: Config,
  overrides: StartOverrides = {},
): Promise<RunningCommunicator> {
  const logger = overrides.logger ?? serviceLogger(config);
  warnWhenAuthDisabled(config, logger);
  const database = createDatabase(
    config.DATABASE_URL,
    logger,
    config.DATABASE_POOL_MAX ?? Math.max(10, config.COMMUNICATOR_CONCURRENCY + 5),
  );
  const ledger = new InboundLedgerRepository(database.db);
  const checkpoints = new CheckpointRepository(database.db);
  const outbound = new OutboundRepository(database.db);

  const serviceMetrics = createServiceMetrics(SERVICE_NAME, VERSION);
  const metrics = createCommunicatorMetrics(serviceMetrics, () => ledger.stats());
  // Owner of the ledger rows this process works on: unique per process, readable in the table.
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
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
  const channelDeps = { ledger, checkpoints, metrics, logger, onNewWork };
  const [email, telegram] = await Promise.all([
    createEmailChannel(config, channelDeps),
    createTelegramChannel(config, channelDeps),
  ]);
  if (email) channels.email = email.reply;
  if (telegram) channels.tg = telegram.reply;

  const health = new HealthRegistry(SERVICE_NAME, VERSION, serviceMetrics);
  registerHealthChecks(health, { database, email, telegram, secretary });
  const app = createApp({
    service: SERVICE_NAME,
    version: VERSION,
    logger,
    metrics: serviceMetrics,
    health,
    authKeys: config.SERVICE_TOKEN ? [config.SERVICE_TOKEN] : [],
    sendMessage: new SendMessageUseCase({
      outbound,
      email: email?.mailer,
      telegram: telegram?.bot,
      mailThreads: ledger,
    }),
    inbound: new InboundOperatorUseCases({ ledger, logger, onRequeued: onNewWork }),
    ...(telegram?.webhook ? { telegramWebhook: telegram.webhook } : {}),
  });

  const service = await serve(app, {
    config,
    logger,
    metrics: serviceMetrics,
    closers: [
      // Intake first (no new work), then the in-flight rows drain, then connections close.
      { name: 'telegram-poller', close: () => telegram?.stopIntake() },
      { name: 'imap', close: () => email?.stopIntake() },
      { name: 'ledger-dispatcher', close: () => dispatcher.stop() },
      ...(email?.connections ?? []),
      { name: 'secretary-client', close: () => secretary.close() },
      { name: 'postgres', close: () => database.close() },
    ],
  });
  logger.info(`${SERVICE_NAME} listening on ${service.url}`, {
    'communicator.email': Boolean(email),
    'communicator.telegram': telegram ? config.TELEGRAM_MODE : 'disabled',
  });
  dispatcher.start();
  email?.inbox.start();
  telegram?.start();
  return { ...service, database, owner };
}
