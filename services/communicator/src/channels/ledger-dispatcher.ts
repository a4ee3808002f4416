import type { Logger } from '@workemon/logger';
import type { InboundLedgerRepository } from '../data/inbound-ledger-repository.js';
import type { InboundRow } from '../data/schema.js';
import type { ProcessInboundMessageUseCase } from '../domain/process-inbound-message-use-case.js';
import type { CommunicatorMetrics } from '../metrics.js';
import { Wakeable } from './wakeable.js';

/** Idle rescan interval: picks up retries whose backoff ended and leases that expired. */
const IDLE_SCAN_MS = 1_000;

/** Replies being delivered after their slot was handed on, per slot (bounds memory and SMTP queues). */
const DELIVERIES_PER_SLOT = 2;

/**
 * Works the ledger with bounded concurrency: claims as many due rows as there
 * are free slots, runs each through the use case, and claims again as soon as
 * a slot frees or new work is announced — exactly `concurrency` rows stay in
 * analysis (the secretary and its LLM calls, the slow part) while the backlog
 * lasts, with no batch-by-batch waves. A row gives its slot back once its
 * answer is stored; its reply is then delivered outside the slot (bounded by
 * DELIVERIES_PER_SLOT × concurrency), so SMTP/Telegram latency never idles
 * the LLM. Channels only insert rows; this is the one place rows are
 * processed, whatever the channel.
 */
export class LedgerDispatcher {
  /** Every row task still running (analysis or delivery): stop() waits for all of them. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Rows holding a slot (claimed, not yet answered). */
  private slotsUsed = 0;
  private readonly wakeable = new Wakeable();
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      ledger: InboundLedgerRepository;
      useCase: ProcessInboundMessageUseCase;
      concurrency: number;
      leaseMs: number;
      maxAttempts: number;
      logger: Logger;
      metrics?: CommunicatorMetrics;
    },
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  wake(): void {
    this.wakeable.wake();
  }

  get activeCount(): number {
    return this.slotsUsed;
  }

  /** Stops claiming and waits for in-flight rows (unfinished ones keep their lease and resume elsewhere). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeable.wake();
    await this.running;
    await Promise.allSettled([...this.inFlight]);
  }

  private async loop(): Promise<void> {
    const { ledger, concurrency, leaseMs, maxAttempts, logger } = this.deps;
    while (!this.stopped) {
      const free =
        this.inFlight.size - this.slotsUsed >= DELIVERIES_PER_SLOT * concurrency
          ? 0
          : concurrency - this.slotsUsed;
      let full = false;
      if (free > 0) {
        try {
          const rows = await ledger.claim(free, leaseMs, maxAttempts);
          full = rows.length === free;
          for (const row of rows) {
            if (row.status === 'quarantined') this.gaveUp(row);
            else this.run(row);
          }
        } catch (error) {
          logger.warn(`ledger claim failed: ${(error as Error).message}`);
        }
      }
      // A full batch means more may be waiting: claim again at once for any slot still free
      // (rows quarantined at claim time freed theirs). Otherwise sleep until a slot frees
      // (run() wakes us), new work is announced, or the idle rescan is due.
      if (full && this.slotsUsed < concurrency) continue;
      await this.wakeable.sleep(IDLE_SCAN_MS, () => this.stopped);
    }
  }

  private run(row: InboundRow): void {
    this.slotsUsed += 1;
    let holdsSlot = true;
    const release = () => {
      if (!holdsSlot) return;
      holdsSlot = false;
      this.slotsUsed -= 1;
      this.wakeable.wake();
    };
    const task: Promise<void> = this.deps.useCase
      .execute(row, release)
      .catch((error: unknown) => {
        this.deps.logger.error(`processing row ${row.id} failed: ${(error as Error).message}`);
      })
      .finally(() => {
        this.inFlight.delete(task);
        release();
        this.wakeable.wake();
      });
    this.inFlight.add(task);
  }

  private gaveUp(row: InboundRow): void {
    this.deps.metrics?.channelMessages.inc({ channel: row.channel, outcome: 'quarantined' });
    this.deps.metrics?.quarantined.inc({ channel: row.channel });
    this.deps.logger.error(`quarantined: ${row.lastError ?? 'out of attempts'}`, {
      'communicator.inbound_id': row.id,
      'communicator.channel': row.channel,
    });
  }
}
