import type { Logger } from '@workemon/logger';
import type { InboundLedgerRepository } from '../data/inbound-ledger-repository.js';
import type { InboundRow } from '../data/schema.js';
import type { ProcessInboundMessageUseCase } from '../domain/process-inbound-message-use-case.js';
import type { CommunicatorMetrics } from '../metrics.js';
import { Wakeable } from './wakeable.js';

/** Idle rescan interval: picks up retries whose backoff ended and rows whose owner died. */
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
 *
 * Every row it works on is owned by this process (`owner`), and a heartbeat
 * renews their leases every `heartbeatMs`: a process that dies stops beating,
 * and its rows are orphans `leaseMs` later. Rows orphaned by one crash are
 * taken over with the normal flow. Rows that were in flight at two crashes or
 * more are suspects: they run with nothing else beside them (the dispatcher
 * first lets its own rows finish), in groups that halve with each further
 * crash (`concurrency` / 2, … one), so a row that keeps crashing the process
 * ends up running alone, and only a crash then is charged to it (see
 * InboundLedgerRepository.claimOrphans). Random crashes of a busy process
 * charge nobody and never stall the flow for long.
 */
export class LedgerDispatcher {
  /** Every row task still running (analysis or delivery): stop() waits for all of them. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Ids of the rows those tasks work on (what the heartbeat renews). */
  private readonly owned = new Set<number>();
  /** Rows holding a slot (claimed, not yet answered). */
  private slotsUsed = 0;
  /** Taken-over rows still running: nothing else is claimed until they end. */
  private isolatedInFlight = 0;
  private readonly wakeable = new Wakeable();
  private stopped = false;
  private running: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      ledger: InboundLedgerRepository;
      useCase: ProcessInboundMessageUseCase;
      /** This process's owner id (unique per process). */
      owner: string;
      concurrency: number;
      /** How long a row stays owned without a heartbeat. */
      leaseMs: number;
      heartbeatMs: number;
      maxAttempts: number;
      logger: Logger;
      metrics?: CommunicatorMetrics;
    },
  ) {}

  start(): void {
    this.running ??= this.loop();
    this.heartbeatTimer ??= setInterval(() => {
      this.beating ??= this.heartbeat().finally(() => {
        this.beating = undefined;
      });
    }, this.deps.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  wake(): void {
    this.wakeable.wake();
  }

  get activeCount(): number {
    return this.slotsUsed;
  }

  /** Stops claiming and waits for in-flight rows (their heartbeat goes on until they end). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeable.wake();
    await this.running;
    await Promise.allSettled([...this.inFlight]);
    clearInterval(this.heartbeatTimer);
    await this.beating;
  }

  private async heartbeat(): Promise<void> {
    const { ledger, owner, leaseMs, logger, metrics } = this.deps;
    const ids = [...this.owned];
    if (ids.length === 0) return;
    try {
      const kept = new Set(await ledger.heartbeat(owner, ids, leaseMs));
      const lost = ids.filter((id) => !kept.has(id) && this.owned.has(id));
      metrics?.heartbeats.inc({ outcome: lost.length > 0 ? 'lost' : 'ok' });
      // Rows that ended between the snapshot and the UPDATE were released, not lost: only warn for
      // ones still running (their next fenced write aborts them).
      if (lost.length > 0) logger.warn(`heartbeat: rows ${lost.join(', ')} were taken over`);
    } catch (error) {
      metrics?.heartbeats.inc({ outcome: 'failed' });
      logger.warn(`heartbeat failed: ${(error as Error).message}`);
    }
  }

  private async loop(): Promise<void> {
    const { ledger, concurrency, leaseMs, maxAttempts, owner, logger } = this.deps;
    while (!this.stopped) {
      let again = false;
      try {
        const level = this.isolatedInFlight > 0 ? undefined : await ledger.orphanLevel();
        if (this.isolatedInFlight > 0) {
          // Nothing else runs beside taken-over suspects.
        } else if (level === 0) {
          // Rows of a process that died once are not suspects yet (crashes happen: deploys, OOM,
          // kills): they are taken over with the normal flow, so a crash never stalls the rest.
          const rows = await ledger.claimOrphans(owner, {
            level,
            limit: concurrency - this.slotsUsed,
            leaseMs,
            maxAttempts,
            isolated: false,
          });
          for (const row of rows) {
            this.tookOver(row, 0);
            this.run(row, false);
          }
          again = rows.length > 0 && this.slotsUsed < concurrency;
        } else if (level !== undefined && this.inFlight.size === 0) {
          // Rows that were in flight at two crashes or more: run with nothing beside them, in
          // groups that halve with each crash, until a row that keeps crashing runs alone.
          const size = Math.max(1, concurrency >> Math.min(level, 30));
          const rows = await ledger.claimOrphans(owner, {
            level,
            limit: size,
            leaseMs,
            maxAttempts,
            isolated: true,
          });
          for (const row of rows) {
            this.tookOver(row, rows.length);
            if (row.status === 'quarantined') this.gaveUp(row);
            else this.run(row, true);
          }
          again = rows.length > 0 && this.isolatedInFlight === 0;
        } else if (level !== undefined) {
          // Let our own rows finish first, then take the suspects over.
        } else {
          const free =
            this.inFlight.size - this.slotsUsed >= DELIVERIES_PER_SLOT * concurrency
              ? 0
              : concurrency - this.slotsUsed;
          if (free > 0) {
            const rows = await ledger.claim(owner, free, leaseMs);
            for (const row of rows) this.run(row, false);
            // A full batch means more may be waiting: claim again for any slot still free.
            again = rows.length === free && this.slotsUsed < concurrency;
          }
        }
      } catch (error) {
        logger.warn(`ledger claim failed: ${(error as Error).message}`);
      }
      if (again) continue;
      // Sleep until a slot frees (run() wakes us), new work is announced, or the idle rescan is due.
      await this.wakeable.sleep(IDLE_SCAN_MS, () => this.stopped);
    }
  }

  private run(row: InboundRow, isolated: boolean): void {
    this.slotsUsed += 1;
    this.owned.add(row.id);
    if (isolated) this.isolatedInFlight += 1;
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
        this.owned.delete(row.id);
        if (isolated) this.isolatedInFlight -= 1;
        release();
        this.wakeable.wake();
      });
    this.inFlight.add(task);
  }

  private tookOver(row: InboundRow, groupSize: number): void {
    this.deps.metrics?.takeovers.inc({ channel: row.channel });
    this.deps.logger.warn(
      `took over a row whose owner stopped beating; running it in a group of ${groupSize}`,
      {
        event: { action: 'ledger-takeover' },
        'communicator.takeover_group': groupSize,
        'communicator.inbound_id': row.id,
        'communicator.channel': row.channel,
        'communicator.status': row.status,
        'communicator.crashes': row.crashes,
        'communicator.attempts': row.attempts,
      },
    );
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
