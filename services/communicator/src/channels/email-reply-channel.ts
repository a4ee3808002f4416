import type { SmtpMailer } from '../clients/smtp-mailer.js';
import type { InboundRow } from '../data/schema.js';
import { composeMailReply, replyMessageId, replySubject } from '../domain/compose-mail-reply.js';
import { PermanentFailure } from '../domain/errors.js';
import type { ReplyChannel } from '../domain/process-inbound-message-use-case.js';

interface MailThread {
  messageId?: string | null;
  references?: string[];
}

/** Email replies: threaded (In-Reply-To/References), deterministic Message-ID, then \Seen via the inbox worker. */
export class EmailReplyChannel implements ReplyChannel {
  constructor(
    private readonly mailer: SmtpMailer,
    private readonly onReplied: () => void,
  ) {}

  plannedReplyId(row: InboundRow): string {
    return replyMessageId(row.id, row.externalId, this.mailer.from);
  }

  async deliver(row: InboundRow, answer: string): Promise<string> {
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
    return this.mailer.send(reply);
  }

  afterReply(): void {
    this.onReplied();
  }
}
