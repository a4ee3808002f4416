import type { Closer } from '@workemon/http-kit';
import type { EmailInboxWorker } from './channels/email-inbox-worker.js';
import type { SmtpMailer } from './clients/smtp-mailer.js';
import type { ChannelDeps } from './channel-deps.js';
import type { Config } from './config.js';
import type { ReplyChannel } from './domain/process-inbound-message-use-case.js';

/** Mail both ways: the IMAP inbox poller in, SMTP replies out (filed into the sent folder). */
export interface EmailChannel {
  mailer: SmtpMailer;
  inbox: EmailInboxWorker;
  reply: ReplyChannel;
  /** Stops polling the inbox (no new work). */
  stopIntake(): Promise<void>;
  /** The SMTP pool and the sent-folder connection, closed after in-flight replies are sent. */
  connections: Closer[];
}

/** The email channel when IMAP_USER, IMAP_PASSWORD and MAIL_FROM are set; undefined otherwise. */
export async function createEmailChannel(
  config: Config,
  deps: ChannelDeps,
): Promise<EmailChannel | undefined> {
  if (!config.IMAP_USER || !config.IMAP_PASSWORD || !config.MAIL_FROM) return undefined;
  const { logger } = deps;
  // The mail libraries (imapflow, mailparser, nodemailer: ~0.4 s of CPU and ~50 MB at start)
  // load only when mail is configured.
  const [{ SmtpMailer }, { EmailInboxWorker }, { ImapSentFolder }, { EmailReplyChannel }] = await Promise.all(
    [
      import('./clients/smtp-mailer.js'),
      import('./channels/email-inbox-worker.js'),
      import('./clients/imap-sent-folder.js'),
      import('./channels/email-reply-channel.js'),
    ],
  );
  const imapConnection = {
    host: config.IMAP_HOST,
    port: config.IMAP_PORT,
    secure: config.IMAP_SECURE,
    user: config.IMAP_USER,
    password: config.IMAP_PASSWORD,
    rejectUnauthorized: config.IMAP_TLS_REJECT_UNAUTHORIZED,
  };
  const mailer = new SmtpMailer({
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    user: config.SMTP_USER,
    password: config.SMTP_PASSWORD,
    from: config.MAIL_FROM,
    rejectUnauthorized: config.SMTP_TLS_REJECT_UNAUTHORIZED,
    maxConnections: Math.min(config.COMMUNICATOR_CONCURRENCY, 10),
  });
  const inbox = new EmailInboxWorker({
    options: {
      connection: imapConnection,
      mailbox: config.IMAP_MAILBOX,
      pollIntervalMs: config.IMAP_POLL_INTERVAL_MS,
      firstStart: config.IMAP_FIRST_START,
      maxRequestChars: config.MAX_REQUEST_CHARS,
      maxParseCrashes: config.COMMUNICATOR_MAX_ATTEMPTS,
      testCrashMarker: config.COMMUNICATOR_TEST_CRASH_MARKER,
      // Our own replies, looped back into the inbox, are never answered.
      ownAddresses: [
        ...new Set(
          [config.MAIL_FROM, config.IMAP_USER, config.SMTP_USER].flatMap((a) => (a ? [a.toLowerCase()] : [])),
        ),
      ],
    },
    ledger: deps.ledger,
    checkpoints: deps.checkpoints,
    metrics: deps.metrics,
    logger,
    onNewWork: deps.onNewWork,
  });
  const sentFolder = new ImapSentFolder({
    ...imapConnection,
    mailbox: config.IMAP_SENT_MAILBOX,
    create: config.IMAP_SENT_APPEND,
    onError: (error) => logger.warn(`sent folder connection error: ${error.message}`),
  });
  const reply = new EmailReplyChannel(
    mailer,
    { folder: sentFolder, appendAfterSend: config.IMAP_SENT_APPEND },
    logger,
    () => inbox.requestSeenFlush(),
  );
  if (config.COMMUNICATOR_TEST_CRASH_MARKER)
    logger.warn('COMMUNICATOR_TEST_CRASH_MARKER is set: mails containing it crash this process (test only)');
  return {
    mailer,
    inbox,
    reply,
    stopIntake: () => inbox.stop(),
    connections: [
      { name: 'smtp', close: () => mailer.close() },
      { name: 'sent-folder', close: () => sentFolder.close() },
    ],
  };
}
