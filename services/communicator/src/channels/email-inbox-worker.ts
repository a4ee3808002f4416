import { createHash } from 'node:crypto';
import type { HealthCheckResult } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import {
  type FetchedMessage,
  type ImapConnectionOptions,
  ImapMailboxClient,
} from '../clients/imap-mailbox-client.js';
import type { CheckpointRepository, ParseMarker } from '../data/checkpoint-repository.js';
import type { InboundLedgerRepository } from '../data/inbound-ledger-repository.js';
import type { NewInboundRow } from '../data/schema.js';
import { fetchBatches } from '../domain/fetch-batches.js';
import { parseInboundMail, rawHeaderText } from '../domain/parse-inbound-mail.js';
import type { CommunicatorMetrics } from '../metrics.js';
import { Wakeable } from './wakeable.js';

export type FirstStartPolicy = 'unseen' | 'all' | 'none';

export interface EmailInboxWorkerOptions {
  connection: ImapConnectionOptions;
  mailbox: string;
  pollIntervalMs: number;
  maxRequestChars: number;
  ownAddresses: string[];
  /**
   * What to take from the mailbox when there is no valid checkpoint (first start, or the
   * UIDVALIDITY changed): `unseen` mail only, `all` of it, or `none` (only mail arriving later).
   */
  firstStart: FirstStartPolicy;
  /** At most this many messages per FETCH command… */
  fetchBatch?: number;
  /** …and at most this many bytes (RFC822.SIZE), so a backlog of large mail is never all in memory. */
  fetchBatchBytes?: number;
  /** A mail that was being parsed when this many processes died is quarantined unparsed. */
  maxParseCrashes: number;
  /** TEST ONLY (COMMUNICATOR_TEST_CRASH_MARKER): a mail containing this SIGKILLs the process when parsed. */
  testCrashMarker?: string | undefined;
}

const MIN_BACKOFF_MS = 1_000;

/** Mails parsed under one checkpoint marker (and recorded, checkpointed together). */
const PARSE_RUN = 10;

interface ParseRun {
  messages: FetchedMessage[];
  marker: ParseMarker;
}
const MAX_BACKOFF_MS = 60_000;

/**
 * Mail in: one IMAP connection at a time; fetches UIDs above the checkpoint
 * (never relying on \Seen, so a person reading the mailbox hides nothing),
 * records each message in the ledger, then advances the checkpoint. Wakes on
 * IDLE's EXISTS and polls every interval anyway; reconnects with backoff.
 *
 * Without a valid checkpoint (first start, UIDVALIDITY changed) the mail
 * already in the mailbox is taken by the `firstStart` policy, and only then is
 * the checkpoint set to the mailbox's highest UID: the one place \Seen counts.
 */
export class EmailInboxWorker {
  private readonly wake = new Wakeable();
  private stopped = false;
  private running: Promise<void> | undefined;
  private client: ImapMailboxClient | undefined;
  private connectedSince: number | undefined;
  private lastPollAt: number | undefined;
  private lastError: string | undefined;
  /** What the previous process was parsing when it died (read once, at the first poll). */
  private inheritedParse: Promise<ParseMarker | undefined> | undefined;
  readonly checkpointKey: string;

  constructor(
    private readonly deps: {
      options: EmailInboxWorkerOptions;
      ledger: InboundLedgerRepository;
      checkpoints: CheckpointRepository;
      metrics: CommunicatorMetrics;
      logger: Logger;
      onNewWork: () => void;
    },
  ) {
    this.checkpointKey = `imap:${deps.options.connection.user.toLowerCase()}:${deps.options.mailbox}`;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Asks the worker to flag replied messages \Seen soon. */
  requestSeenFlush(): void {
    this.wake.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.wake();
    await this.client?.close();
    await this.running;
  }

  health(): HealthCheckResult {
    const interval = this.deps.options.pollIntervalMs;
    const age = this.lastPollAt === undefined ? undefined : Date.now() - this.lastPollAt;
    const ageText = age === undefined ? 'never polled' : `last poll ${Math.round(age / 1000)} s ago`;
    if (!this.connectedSince) {
      return { status: 'degraded', detail: `disconnected (${this.lastError ?? 'connecting'}); ${ageText}` };
    }
    if (age === undefined || age > 2 * interval)
      return { status: 'degraded', detail: `connected; ${ageText}` };
    return { status: 'ok', detail: `connected; ${ageText}` };
  }

  private async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.stopped) {
      try {
        await this.session();
        backoff = MIN_BACKOFF_MS;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.deps.logger.warn(`imap session failed: ${this.lastError}`, {
          event: { action: 'imap-session' },
        });
      }
      this.connectedSince = undefined;
      if (this.stopped) break;
      const delay = backoff / 2 + Math.random() * (backoff / 2);
      await this.wake.sleep(delay, () => this.stopped);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  private async session(): Promise<void> {
    const { options, logger } = this.deps;
    const client = new ImapMailboxClient(options.connection, (error) => {
      this.lastError = error.message;
      logger.warn(`imap connection error: ${error.message}`);
    });
    this.client = client;
    try {
      await client.open(options.mailbox, () => this.wake.wake());
      this.connectedSince = Date.now();
      this.lastError = undefined;
      logger.info(
        `imap connected to ${options.connection.host}:${options.connection.port} (${options.mailbox})`,
        {
          'communicator.imap_idle': client.supportsIdle,
        },
      );
      let closed = false;
      void client.closed.then(() => {
        closed = true;
        this.wake.wake();
      });
      while (!this.stopped && !closed && client.usable) {
        await this.pollOnce(client);
        await this.flushSeen(client);
        await this.wake.sleep(options.pollIntervalMs, () => this.stopped || closed);
      }
      if (!this.stopped) throw new Error('imap connection closed');
    } finally {
      this.client = undefined;
      await client.close();
    }
  }

  private async pollOnce(client: ImapMailboxClient): Promise<void> {
    const { checkpoints, metrics, logger, options } = this.deps;
    const started = performance.now();
    let outcome = 'success';
    try {
      const uidValidity = client.uidValidity;
      if (uidValidity === undefined) throw new Error('mailbox not selected');
      const checkpoint = await checkpoints.get(this.checkpointKey);
      let lastUid: number | undefined = checkpoint?.lastUid;
      // A row holding only a parse marker (written during a first start) is no checkpoint yet.
      if (!checkpoint || checkpoint.uidvalidity !== uidValidity) {
        if (checkpoint?.uidvalidity != null) {
          // UIDs of the old generation mean nothing now: the mailbox is taken again as on a first
          // start, and the ledger's Message-ID/hash dedupe keeps recorded mail from being answered twice.
          logger.warn(
            `UIDVALIDITY changed ${checkpoint.uidvalidity} → ${uidValidity}: resyncing ${options.mailbox}`,
          );
        }
        lastUid = await this.takeExistingMail(client, uidValidity, checkpoint ? 'resync' : 'first start');
        if (lastUid === undefined) return; // stopping: the checkpoint stays as it was
      }
      await this.ingest(client, await client.uidsAbove(lastUid ?? 0), uidValidity, true);
      this.lastPollAt = Date.now();
      metrics.imapLastPoll.set(this.lastPollAt / 1000);
    } catch (error) {
      outcome = 'failure';
      throw error;
    } finally {
      metrics.imapPollDuration.observe({ outcome }, (performance.now() - started) / 1000);
    }
  }

  /**
   * Applies the `firstStart` policy to the mail in the mailbox now and returns the UID the
   * checkpoint now stands at (undefined when stopped half-way). The checkpoint is written last:
   * a crash before it repeats this step, and the ledger's dedupe absorbs what was recorded.
   */
  private async takeExistingMail(
    client: ImapMailboxClient,
    uidValidity: number,
    reason: 'first start' | 'resync',
  ): Promise<number | undefined> {
    const { checkpoints, logger, options } = this.deps;
    const policy = options.firstStart;
    const existing = await client.allUids();
    const top = existing.at(-1) ?? 0;
    // `all` keeps the old path: everything above UID 0, checkpointed batch by batch.
    const base = policy === 'all' ? 0 : top;
    const taken = policy === 'unseen' ? await client.unseenUidsUpTo(top) : [];
    logger.info(
      `${reason} on ${options.mailbox} (IMAP_FIRST_START=${policy}): ` +
        (policy === 'all'
          ? `taking all ${existing.length} messages`
          : `taking ${taken.length} ${policy === 'unseen' ? 'unseen ' : ''}of ${existing.length} messages, ` +
            `the rest is passed over (checkpoint at UID ${top})`),
      {
        event: { action: 'imap-first-start', reason },
        'communicator.imap_first_start': policy,
        'communicator.imap_existing': existing.length,
      },
    );
    if (!(await this.ingest(client, taken, uidValidity, false))) return undefined;
    await checkpoints.set(this.checkpointKey, { uidvalidity: uidValidity, lastUid: base });
    return base;
  }

  /**
   * Fetches `uids` (ascending) in batches and records them in the ledger, waking the dispatcher
   * after each batch. With `advanceCheckpoint` the checkpoint follows each batch (only valid when
   * `uids` are every UID above the checkpoint). Returns false when stopped before the end.
   */
  private async ingest(
    client: ImapMailboxClient,
    uids: number[],
    uidValidity: number,
    advanceCheckpoint: boolean,
  ): Promise<boolean> {
    const { ledger, checkpoints, metrics, logger, options } = this.deps;
    // Large batches drain a backlog in a few round trips; the dispatcher is woken after each one.
    const sizes = uids.length > 0 ? await client.sizes(uids) : new Map<number, number>();
    const batches = fetchBatches(uids, sizes, {
      maxCount: options.fetchBatch ?? 100,
      maxBytes: options.fetchBatchBytes ?? 32 * 1024 * 1024,
    });
    for (const chunk of batches) {
      if (this.stopped) return false;
      const messages = await client.fetchSources(chunk);
      for (const run of await this.parseRuns(messages)) {
        if (this.stopped) return false;
        const rows: NewInboundRow[] = [];
        for (const message of run.messages) rows.push(await this.parseMarked(message, run, uidValidity));
        const inserted = await ledger.record(rows);
        for (const row of inserted) {
          const outcomeLabel = row.status === 'received' ? 'received' : row.status;
          metrics.channelMessages.inc({ channel: 'email', outcome: outcomeLabel });
          if (row.status === 'quarantined') metrics.quarantined.inc({ channel: 'email' });
          if (row.status !== 'received') {
            logger.info(`mail ${row.status}: ${row.lastError ?? ''}`, { 'communicator.inbound_id': row.id });
          }
        }
        // Checkpoint only after the ledger has the rows: a crash in between refetches, and dedupe
        // absorbs it. Run by run, so a process killed mid-batch keeps what it recorded.
        if (advanceCheckpoint)
          await checkpoints.set(this.checkpointKey, {
            uidvalidity: uidValidity,
            lastUid: run.marker.lastUid,
          });
        else await checkpoints.clearParsing(this.checkpointKey);
        if (inserted.length > 0) this.deps.onNewWork();
      }
      const highest = chunk.at(-1);
      if (advanceCheckpoint && highest !== undefined)
        await checkpoints.set(this.checkpointKey, { uidvalidity: uidValidity, lastUid: highest });
    }
    return true;
  }

  /**
   * Splits fetched mail into runs parsed under one marker each (checkpoint row: "parsing UIDs
   * a..b"). A process that dies parsing leaves the marker behind. The next process parses the
   * mails that marker covered one by one, each under its own marker; a mail that was being
   * parsed alone when a process died has that crash counted, and at `maxParseCrashes` it is
   * recorded quarantined without being parsed again, so one poison mail cannot stop the
   * mailbox. Other mails go in runs of PARSE_RUN (few writes per mail).
   */
  private async parseRuns(messages: FetchedMessage[]): Promise<ParseRun[]> {
    this.inheritedParse ??= this.deps.checkpoints.parsing(this.checkpointKey);
    const inherited = await this.inheritedParse;
    const runs: ParseRun[] = [];
    let current: FetchedMessage[] = [];
    const flush = () => {
      if (current.length === 0) return;
      const uid = current[0]?.uid ?? 0;
      runs.push({ messages: current, marker: { uid, lastUid: current.at(-1)?.uid ?? uid, crashes: 0 } });
      current = [];
    };
    for (const message of messages) {
      if (inherited && message.uid >= inherited.uid && message.uid <= inherited.lastUid) {
        flush();
        const alone = inherited.uid === inherited.lastUid;
        // Only a crash while this mail was parsed alone is its own doing.
        const crashes = alone ? inherited.crashes + 1 : 0;
        if (alone) {
          this.deps.metrics.parseCrashes.inc();
          this.deps.logger.warn(
            `mail UID ${message.uid} was being parsed when a process died (${crashes} time(s))`,
            {
              event: { action: 'mail-parse-crash' },
              'communicator.imap_uid': message.uid,
            },
          );
        }
        runs.push({ messages: [message], marker: { uid: message.uid, lastUid: message.uid, crashes } });
        continue;
      }
      current.push(message);
      if (current.length >= PARSE_RUN) flush();
    }
    flush();
    // The inherited marker is used up once its mails are in runs of their own.
    if (inherited && messages.some((m) => m.uid >= inherited.lastUid))
      this.inheritedParse = Promise.resolve(undefined);
    return runs;
  }

  /** Parses one mail of a run (the run's marker is written before its first mail). */
  private async parseMarked(
    message: FetchedMessage,
    run: ParseRun,
    uidvalidity: number,
  ): Promise<NewInboundRow> {
    const { checkpoints, options } = this.deps;
    const { uid, source } = message;
    if (run.marker.crashes >= options.maxParseCrashes) {
      return {
        channel: 'email',
        externalId: `sha256:${createHash('sha256').update(source).digest('hex')}`,
        mailbox: options.mailbox,
        uidvalidity,
        uid,
        username: 'unknown',
        replyTo: '',
        rawBytes: source.length,
        // Plain byte slicing, not the parser that kept dying on this mail.
        rawHeaders: rawHeaderText(source),
        status: 'quarantined',
        attempts: run.marker.crashes,
        lastError: `the process died ${run.marker.crashes} times while parsing this mail: not parsed again`,
      };
    }
    if (uid === run.marker.uid) await checkpoints.markParsing(this.checkpointKey, run.marker);
    if (options.testCrashMarker && source.includes(options.testCrashMarker)) {
      // Test-only fault injection (COMMUNICATOR_TEST_CRASH_MARKER): die like a crashing parser would.
      process.kill(process.pid, 'SIGKILL');
    }
    return this.toLedgerRow(uid, source, uidvalidity);
  }

  private async toLedgerRow(uid: number, source: Buffer, uidvalidity: number): Promise<NewInboundRow> {
    const { options } = this.deps;
    const mail = await parseInboundMail(source, {
      maxChars: options.maxRequestChars,
      ownAddresses: options.ownAddresses,
    });
    const verdict = mail.verdict;
    return {
      channel: 'email',
      externalId: mail.externalId,
      mailbox: options.mailbox,
      uidvalidity,
      uid,
      username: mail.sender || 'unknown',
      replyTo: mail.replyTo || mail.sender || '',
      subject: mail.subject,
      thread: { messageId: mail.messageId ?? null, references: mail.references, truncated: mail.truncated },
      requestText: mail.text,
      rawBytes: mail.rawBytes,
      rawHeaders: mail.rawHeaders,
      status: verdict.kind === 'process' ? 'received' : verdict.kind === 'skip' ? 'skipped' : 'quarantined',
      lastError: verdict.kind === 'process' ? null : verdict.reason,
    };
  }

  private async flushSeen(client: ImapMailboxClient): Promise<void> {
    const uidValidity = client.uidValidity;
    if (uidValidity === undefined) return;
    for (let round = 0; round < 20 && !this.stopped; round++) {
      const rows = await this.deps.ledger.unseen(this.deps.options.mailbox, uidValidity, 200);
      if (rows.length === 0) return;
      await client.markSeen(rows.map((r) => r.uid));
      await this.deps.ledger.markSeen(rows.map((r) => r.id));
    }
  }
}
