import { createHash } from 'node:crypto';
import type { SendMessageInput, SendMessageResult } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { composeMailReply, replySubject } from './compose-mail-reply.js';
import { PermanentFailure } from './errors.js';
import type { OutboundStore } from './ledger-ports.js';
import { splitMessage } from './split-message.js';

export interface EmailSender {
  readonly from: string;
  send(reply: ReturnType<typeof composeMailReply>): Promise<string>;
}

/** The received mails an operator's answer may be threaded to (the ingest ledger). */
export interface MailThreadLookup {
  findByExternalId(
    channel: string,
    externalId: string,
  ): Promise<{ subject: string | null; thread: Record<string, unknown> } | undefined>;
}

export interface TelegramSender {
  sendMessage(chatId: string, text: string): Promise<number>;
}

const SEND_LEASE_MS = 120_000;

/**
 * POST /send: a message on behalf of another service, idempotent by the
 * caller's key — a repeat returns the first result, a concurrent repeat gets 409.
 */
export class SendMessageUseCase {
  constructor(
    private readonly deps: {
      outbound: OutboundStore;
      email: EmailSender | undefined;
      telegram: TelegramSender | undefined;
      /** Absent: `in_reply_to` still sets In-Reply-To, but subject and References are not looked up. */
      mailThreads?: MailThreadLookup;
    },
  ) {}

  async execute(input: SendMessageInput): Promise<SendMessageResult> {
    const sender = input.channel === 'email' ? this.deps.email : this.deps.telegram;
    if (!sender) throw AppError.unavailable(`The ${input.channel} channel is not configured on this service`);
    if (input.channel === 'email' && !/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(input.to)) {
      throw AppError.badRequest("Parameter 'to' must be an email address for channel email");
    }
    if (input.channel === 'tg' && !/^-?\d{1,20}$|^@\w{4,}$/.test(input.to)) {
      throw AppError.badRequest("Parameter 'to' must be a Telegram chat id (or @channel) for channel tg");
    }
    const { row, claimed } = await this.deps.outbound.claim(
      {
        idempotencyKey: input.idempotency_key,
        channel: input.channel,
        recipient: input.to,
        subject: input.subject ?? null,
        body: input.text,
      },
      SEND_LEASE_MS,
    );
    const result = (status: 'sent' | 'duplicate', externalId: string | null): SendMessageResult => ({
      status,
      channel: input.channel,
      idempotency_key: input.idempotency_key,
      external_id: externalId,
    });
    if (!claimed) {
      if (row.status === 'sent') return result('duplicate', row.externalId);
      throw new AppError('CONFLICT', `A send with idempotency_key '${input.idempotency_key}' is in progress`);
    }
    try {
      let externalId: string;
      if (input.channel === 'email' && this.deps.email) {
        const domain = this.deps.email.from.split('@')[1] ?? 'workemon.local';
        const digest = createHash('sha256').update(input.idempotency_key).digest('hex').slice(0, 24);
        const thread = await this.threadOf(input.in_reply_to);
        externalId = await this.deps.email.send(
          composeMailReply({
            to: input.to,
            subject: input.subject ?? thread?.subject ?? 'Сообщение от Workemon',
            messageId: `<wm-send-${digest}@${domain}>`,
            inboundMessageId: thread?.messageId,
            inboundReferences: thread?.references ?? [],
            text: input.text,
          }),
        );
      } else {
        let last = 0;
        for (const part of splitMessage(input.text))
          last = await (this.deps.telegram as TelegramSender).sendMessage(input.to, part);
        externalId = String(last);
      }
      await this.deps.outbound.markSent(row.id, externalId);
      return result('sent', externalId);
    } catch (error) {
      await this.deps.outbound.release(row.id, (error as Error).message);
      if (error instanceof PermanentFailure) throw new AppError('UNPROCESSABLE', error.message);
      throw AppError.badGateway(`Sending failed: ${(error as Error).message}`, error);
    }
  }

  /** A reply to a received mail: its Message-ID, references and "Re: subject" (from the ledger when known). */
  private async threadOf(
    inReplyTo: string | undefined,
  ): Promise<{ messageId: string; references: string[]; subject: string | undefined } | undefined> {
    if (!inReplyTo) return undefined;
    const row = await this.deps.mailThreads?.findByExternalId('email', inReplyTo);
    const stored = row?.thread as { messageId?: string | null; references?: string[] } | undefined;
    return {
      messageId: stored?.messageId ?? inReplyTo,
      references: stored?.references ?? [],
      subject: row ? replySubject(row.subject ?? '') : undefined,
    };
  }
}
