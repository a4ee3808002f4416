import { ImapFlow } from 'imapflow';
import type { ImapConnectionOptions } from './imap-mailbox-client.js';

/**
 * The mailbox's sent folder, where an interrupted reply is looked for by its
 * Message-ID before it is sent again. Its own IMAP connection (the inbox
 * worker's sits in IDLE on INBOX), opened on first use and again after it
 * drops; calls are serialized. The folder is `mailbox` when given, else the
 * one flagged \Sent (RFC 6154; Yandex flags its "Sent"), else "Sent".
 */
export class ImapSentFolder {
  private client: ImapFlow | undefined;
  private path: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: ImapConnectionOptions & {
      mailbox?: string | undefined;
      /** Create the folder when missing (only when we append to it ourselves). */
      create: boolean;
      onError: (error: Error) => void;
    },
  ) {}

  /** True when a message with this Message-ID is in the sent folder. */
  contains(messageId: string): Promise<boolean> {
    return this.serialized(async (client, path) => {
      const lock = await client.getMailboxLock(path, { readOnly: true });
      try {
        const found = await client.search({ header: { 'message-id': messageId } }, { uid: true });
        return Array.isArray(found) && found.length > 0;
      } finally {
        lock.release();
      }
    });
  }

  /** Files a sent reply (the bytes that went out) as read. */
  async append(raw: Buffer): Promise<void> {
    await this.serialized(async (client, path) => {
      await client.append(path, raw, ['\\Seen']);
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      if (client.usable) await client.logout();
    } catch {
      // Already gone.
    }
    client.close();
  }

  private serialized<T>(fn: (client: ImapFlow, path: string) => Promise<T>): Promise<T> {
    const next = this.queue.then(async () => {
      const { client, path } = await this.connection();
      return fn(client, path);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async connection(): Promise<{ client: ImapFlow; path: string }> {
    if (this.client?.usable && this.path) return { client: this.client, path: this.path };
    await this.close();
    const { options } = this;
    const client = new ImapFlow({
      host: options.host,
      port: options.port,
      secure: options.secure,
      auth: { user: options.user, pass: options.password },
      tls: { rejectUnauthorized: options.rejectUnauthorized },
      logger: false,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 5 * 60_000,
    });
    // An unhandled socket error would kill the process.
    client.on('error', options.onError);
    await client.connect();
    let path = options.mailbox;
    if (!path) {
      const boxes = await client.list();
      path = boxes.find((b) => b.specialUse === '\\Sent')?.path ?? 'Sent';
    }
    if (options.create) {
      try {
        await client.mailboxCreate(path);
      } catch {
        // It exists (ALREADYEXISTS): nothing to do. Any other problem shows on the first use.
      }
    }
    this.client = client;
    this.path = path;
    return { client, path };
  }
}
