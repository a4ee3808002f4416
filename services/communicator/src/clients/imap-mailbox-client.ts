import { ImapFlow } from 'imapflow';

export interface ImapConnectionOptions {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  password: string;
  rejectUnauthorized: boolean;
}

export interface FetchedMessage {
  uid: number;
  source: Buffer;
}

/**
 * One IMAP connection with the mailbox selected. imapflow never reconnects by
 * itself, so this object lives for one connection: `closed` resolves when it
 * drops and the owner builds a new one. An 'error' listener is always attached
 * (an unhandled socket timeout would otherwise kill the process).
 */
export class ImapMailboxClient {
  private readonly client: ImapFlow;
  readonly closed: Promise<void>;
  private onNewMail: (() => void) | undefined;

  constructor(options: ImapConnectionOptions, onError: (error: Error) => void) {
    this.client = new ImapFlow({
      host: options.host,
      port: options.port,
      secure: options.secure,
      auth: { user: options.user, pass: options.password },
      tls: { rejectUnauthorized: options.rejectUnauthorized },
      logger: false,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 5 * 60_000,
      // imapflow enters IDLE only after this long without commands (default 15 s): new mail
      // between a poll and IDLE waits for the next poll, so IDLE starts soon after each poll.
      autoIdleDelay: 1_000,
    });
    this.client.on('error', onError);
    this.closed = new Promise((resolve) => this.client.once('close', () => resolve()));
    // IDLE (or imapflow's NOOP fallback when the server lacks IDLE) reports new mail as EXISTS.
    this.client.on('exists', () => this.onNewMail?.());
  }

  get usable(): boolean {
    return this.client.usable;
  }

  get supportsIdle(): boolean {
    return this.client.capabilities.has('IDLE');
  }

  /** Connects and selects the mailbox; returns its UIDVALIDITY. */
  async open(mailbox: string, onNewMail: () => void): Promise<number> {
    this.onNewMail = onNewMail;
    await this.client.connect();
    const box = await this.client.mailboxOpen(mailbox);
    return Number(box.uidValidity);
  }

  get uidValidity(): number | undefined {
    return this.client.mailbox ? Number(this.client.mailbox.uidValidity) : undefined;
  }

  /** UIDs strictly above `lastUid`, ascending (the `n:*` range always includes the newest message: filtered). */
  async uidsAbove(lastUid: number): Promise<number[]> {
    const found = await this.client.search({ uid: `${lastUid + 1}:*` }, { uid: true });
    return (found || []).filter((uid) => uid > lastUid).sort((a, b) => a - b);
  }

  /** All UIDs in the mailbox now, ascending (one SEARCH; only numbers cross the wire). */
  async allUids(): Promise<number[]> {
    const found = await this.client.search({ all: true }, { uid: true });
    return (found || []).sort((a, b) => a - b);
  }

  /** UIDs up to and including `maxUid` that have no \Seen flag, ascending. */
  async unseenUidsUpTo(maxUid: number): Promise<number[]> {
    if (maxUid < 1) return [];
    const found = await this.client.search({ seen: false, uid: `1:${maxUid}` }, { uid: true });
    return (found || []).filter((uid) => uid <= maxUid).sort((a, b) => a - b);
  }

  /** RFC822.SIZE per UID: lets the caller size its FETCH batches in bytes before downloading anything. */
  async sizes(uids: number[]): Promise<Map<number, number>> {
    if (uids.length === 0) return new Map();
    const messages = await this.client.fetchAll(uids.join(','), { uid: true, size: true }, { uid: true });
    return new Map(messages.map((m) => [m.uid, m.size ?? 0]));
  }

  async fetchSources(uids: number[]): Promise<FetchedMessage[]> {
    if (uids.length === 0) return [];
    const messages = await this.client.fetchAll(uids.join(','), { uid: true, source: true }, { uid: true });
    return messages.flatMap((m) => (m.source ? [{ uid: m.uid, source: m.source }] : []));
  }

  async markSeen(uids: number[]): Promise<void> {
    if (uids.length === 0) return;
    await this.client.messageFlagsAdd(uids.join(','), ['\\Seen'], { uid: true });
  }

  async close(): Promise<void> {
    try {
      if (this.client.usable) await this.client.logout();
    } catch {
      // Already gone: close() below releases the socket either way.
    }
    this.client.close();
  }
}
