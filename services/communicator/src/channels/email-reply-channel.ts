import type { Logger } from '@workemon/logger';
import type { ImapSentFolder } from '../clients/imap-sent-folder.js';
import type { SmtpMailer } from '../clients/smtp-mailer.js';
import type { InboundRow } from '../data/schema.js';
import { composeMailReply, replyMessageId, replySubject } from '../domain/compose-mail-reply.js';
import { PermanentFailure, RetryableFailure } from '../domain/errors.js';
import type { ReplyChannel, SendHooks, SentCheck } from '../domain/process-inbound-message-use-case.js';

interface MailThread {
  messageId?: string | null;
  references?: string[];
}

export interface SentFolderPolicy {
  folder: ImapSentFolder;
  /**
   * True when the provider does not file what its SMTP server accepts (Yandex does): we append
   * each reply ourselves right after the SMTP 250. A crash between the two leaves no trace, so a
   * reply missing from the folder is then 'unknown' (resent, counted), not 'not-sent'.
   */
  appendAfterSend: boolean;
}

/** Email replies: threaded (In-Reply-To/References), deterministic Message-ID, then \Seen via the inbox worker. */
export class EmailReplyChannel implements ReplyChannel {
  constructor(
    private readonly mailer: SmtpMailer,
    private readonly sent: SentFolderPolicy,
    private readonly logger: Logger,
    private readonly onReplied: () => void,
  ) {}

  plannedReplyId(row: InboundRow): string {
    return replyMessageId(row.id, row.externalId, this.mailer.from);
  }

  /** Looks for the reply's Message-ID in the sent folder; an unreachable folder is an outage (retried). */
  async checkSent(row: InboundRow): Promise<SentCheck> {
    const messageId = row.replyMessageId ?? this.plannedReplyId(row);
    let found: boolean;
    try {
      found = await this.sent.folder.contains(messageId);
    } catch (error) {
      throw new RetryableFailure(`sent folder check failed: ${(error as Error).message}`, undefined, {
        cause: error,
      });
    }
    if (found) return 'sent';
    return this.sent.appendAfterSend ? 'unknown' : 'not-sent';
  }

  async deliver(row: InboundRow, answer: string, hooks: SendHooks): Promise<string> {
    if (!row.replyTo) throw new PermanentFailure('no reply address');
    const thread = row.thread as MailThread;
    const reply = composeMailReply({
      to: row.replyTo,
      subject: replySubject(row.subject ?? ''),
      messageId: row.replyMessageId ?? this.plannedReplyId(row),
      inboundMessageId: thread.messageId ?? undefined,
      inboundReferences: thread.references ?? [],
      text: answer,
    });
    const raw = await this.mailer.compose(reply);
    await hooks.beforeSend(reply.messageId);
    const id = await this.mailer.sendRaw(reply.to, reply.messageId, raw);
    if (this.sent.appendAfterSend) {
      try {
        await this.sent.folder.append(raw);
      } catch (error) {
        // The reply went out; only the proof for a crash in the next milliseconds is missing.
        this.logger.warn(`could not file the reply in the sent folder: ${(error as Error).message}`, {
          'communicator.inbound_id': row.id,
        });
      }
    }
    return id;
  }

  afterReply(): void {
    this.onReplied();
  }
}
