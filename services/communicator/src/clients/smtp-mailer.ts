import nodemailer, { type Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { MailReply } from '../domain/compose-mail-reply.js';
import { PermanentFailure, RetryableFailure } from '../domain/errors.js';

export interface SmtpMailerOptions {
  host: string;
  port: number;
  secure: boolean;
  user: string | undefined;
  password: string | undefined;
  from: string;
  rejectUnauthorized: boolean;
  /** Concurrent SMTP connections in the pool. */
  maxConnections: number;
}

interface SmtpError extends Error {
  responseCode?: number;
  code?: string;
}

const VERIFY_CACHE_MS = 60_000;

/** Pooled nodemailer transport; classifies SMTP failures for the ledger (5xx permanent, rest retryable). */
export class SmtpMailer {
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;
  private lastVerify: { at: number; ok: boolean; detail?: string } | undefined;

  constructor(private readonly options: SmtpMailerOptions) {
    this.transport = nodemailer.createTransport({
      pool: true,
      maxConnections: options.maxConnections,
      host: options.host,
      port: options.port,
      secure: options.secure,
      // Plain test sinks advertise no STARTTLS; real servers on 587 do and get upgraded.
      ...(options.secure ? {} : { ignoreTLS: false }),
      auth: options.user && options.password ? { user: options.user, pass: options.password } : undefined,
      tls: { rejectUnauthorized: options.rejectUnauthorized },
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    } as SMTPTransport.Options);
  }

  get from(): string {
    return this.options.from;
  }

  /**
   * The reply as the exact bytes that go on the wire: what is sent by SMTP is what can be
   * appended to the sent folder, byte for byte (same Message-ID to find it by).
   */
  compose(reply: MailReply): Promise<Buffer> {
    return new MailComposer({
      from: this.options.from,
      to: reply.to,
      subject: reply.subject,
      messageId: reply.messageId,
      ...(reply.inReplyTo ? { inReplyTo: reply.inReplyTo } : {}),
      ...(reply.references.length > 0 ? { references: reply.references } : {}),
      text: reply.text,
      html: reply.html,
      // RFC 3834: tells the recipient's auto-responders not to answer us (no mail loops).
      headers: { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' },
    })
      .compile()
      .build();
  }

  async send(reply: MailReply): Promise<string> {
    return this.sendRaw(reply.to, reply.messageId, await this.compose(reply));
  }

  /**
   * Sends composed bytes. A failure with an SMTP reply code means the server refused the message
   * (nothing sent: `notSent`); a dropped connection may have come after the server took it.
   */
  async sendRaw(to: string, messageId: string, raw: Buffer): Promise<string> {
    try {
      const info = await this.transport.sendMail({ envelope: { from: this.options.from, to: [to] }, raw });
      if (info.rejected.length > 0 && info.accepted.length === 0) {
        throw new PermanentFailure(`SMTP rejected recipient ${to}`, { notSent: true });
      }
      return messageId;
    } catch (error) {
      if (error instanceof PermanentFailure) throw error;
      const smtp = error as SmtpError;
      const notSent = smtp.responseCode !== undefined;
      if (smtp.responseCode !== undefined && smtp.responseCode >= 500 && smtp.code !== 'EAUTH') {
        throw new PermanentFailure(`SMTP refused the message (${smtp.responseCode}): ${smtp.message}`, {
          cause: error,
          notSent,
        });
      }
      throw new RetryableFailure(`SMTP send failed: ${smtp.message}`, undefined, { cause: error, notSent });
    }
  }

  /** Health: SMTP handshake + auth, cached so /health does not open a connection per probe. */
  async verify(): Promise<{ ok: boolean; detail?: string }> {
    if (this.lastVerify && Date.now() - this.lastVerify.at < VERIFY_CACHE_MS) return this.lastVerify;
    try {
      await this.transport.verify();
      this.lastVerify = { at: Date.now(), ok: true };
    } catch (error) {
      this.lastVerify = { at: Date.now(), ok: false, detail: (error as Error).message };
    }
    return this.lastVerify;
  }

  close(): void {
    this.transport.close();
  }
}
