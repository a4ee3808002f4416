import type { AddressInfo } from 'node:net';
import { type AddressObject, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One message the sink accepted. */
export interface CapturedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  from: string;
  to: string[];
  subject: string;
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[];
  text: string;
  html: string | undefined;
  headers: Map<string, unknown>;
  raw: Buffer;
  at: number;
}

export interface SmtpSink {
  host: string;
  port: number;
  messages: CapturedMail[];
  /** Rejects the next `count` messages at DATA with this SMTP code (e.g. 451 transient, 550 permanent). */
  rejectNext(count: number, code?: number): void;
  /** Resolves when at least `count` messages have arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<CapturedMail[]>;
  clear(): void;
  close(): Promise<void>;
}

const addresses = (value: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((a) =>
    a.value.map((v) => (v.address ?? '').toLowerCase()),
  );

/**
 * An SMTP server on 127.0.0.1 that accepts everything (any AUTH, no STARTTLS)
 * and parses each message with mailparser, so tests assert on what nodemailer
 * really put on the wire: headers, threading, text and HTML parts.
 */
export interface StartSmtpSinkOptions {
  /**
   * Called with each accepted message before the sink answers 250, like a provider that files
   * what its SMTP server accepts into the sender's sent folder (Yandex does): e.g.
   * `(raw) => dovecot.deliver(user, raw, 'Sent')`. A failure answers 451.
   */
  fileInto?: (raw: Buffer) => Promise<void>;
}

export async function startSmtpSink(options: StartSmtpSinkOptions = {}): Promise<SmtpSink> {
  const messages: CapturedMail[] = [];
  let rejectCount = 0;
  let rejectCode = 451;
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 50 * 1024 * 1024,
    onAuth: (_auth, _session, callback) => callback(null, { user: 'test' }),
    onData: (stream, session, callback) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (rejectCount > 0) {
          rejectCount -= 1;
          const error = new Error('Rejected by test sink') as Error & { responseCode: number };
          error.responseCode = rejectCode;
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks);
        (options.fileInto ? options.fileInto(raw) : Promise.resolve())
          .then(() => simpleParser(raw))
          .then((parsed) => {
            const references = parsed.references;
            messages.push({
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
              from: addresses(parsed.from)[0] ?? '',
              to: addresses(parsed.to),
              subject: parsed.subject ?? '',
              messageId: parsed.messageId,
              inReplyTo: parsed.inReplyTo,
              references: Array.isArray(references) ? references : references ? [references] : [],
              text: parsed.text ?? '',
              html: typeof parsed.html === 'string' ? parsed.html : undefined,
              headers: parsed.headers,
              raw,
              at: Date.now(),
            });
            for (const w of waiters) w();
            callback();
          })
          .catch((error: unknown) => callback(error as Error));
      });
    },
  });
  // A client killed mid-session (the crash tests SIGKILL the sender) resets its socket;
  // without a listener smtp-server's 'error' event would be an uncaught exception.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    messages,
    rejectNext: (count, code = 451) => {
      rejectCount = count;
      rejectCode = code;
    },
    waitForCount: (count, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        if (messages.length >= count) {
          resolve(messages);
          return;
        }
        const check = () => {
          if (messages.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(messages);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`smtp sink: ${messages.length}/${count} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      }),
    clear: () => {
      messages.length = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
