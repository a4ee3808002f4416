import type { HealthCheckResult } from '@workemon/contracts';
import { type Logger, runWithRequestId } from '@workemon/logger';
import { JiraCallError } from './jira-call-error.js';
import type {
  ClaimedFollowUp,
  FollowUpHandler,
  FollowUpKind,
  FollowUpMetricsPort,
  FollowUpStorePort,
} from './ports.js';

export interface FollowUpWorkerOptions {
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to maxRetryDelayMs (Retry-After wins when given). */
  retryBaseMs: number;
  maxRetryDelayMs: number;
  /**
   * How long a claimed row stays ours without a heartbeat; renewed every heartbeatMs while the
   * work runs, so a crashed (or stopped) owner's row is taken over this long after its last beat.
   */
  leaseMs: number;
  heartbeatMs: number;
  /** This instance's id, recorded on the rows it works on. */
  owner: string;
  /** Safety net for rows whose kick was lost (crash, another replica): how often due rows are looked for. */
  sweepIntervalMs: number;
}

export interface FollowUpWorkerDeps {
  store: FollowUpStorePort;
  handlers: Partial<Record<FollowUpKind, FollowUpHandler>>;
  metrics: FollowUpMetricsPort;
  logger: Logger;
  options: FollowUpWorkerOptions;
}

/**
 * Does the follow-ups stored with exchanges (Jira issues, escalations to the support chat) outside
 * the request path: the person's answer never waits for them, and nothing is lost when Jira, the
 * communicator or this process is down.
 */
export class FollowUpWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private readonly last = new Map<FollowUpKind, { ok: boolean; detail?: string }>();

  constructor(private readonly deps: FollowUpWorkerDeps) {}

  handles(kind: FollowUpKind): boolean {
    return this.deps.handlers[kind] !== undefined;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.deps.options.sweepIntervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Work was stored: look for it now rather than at the next sweep. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /**
   * Stops taking rows and waits for the one in hand, at most `graceMs`: a call still hanging after
   * that is abandoned with its lease, and whoever takes the row next checks whether it got done.
   */
  async stop(graceMs = 3_000): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.running,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Degraded while the last attempt of this kind failed (no network call: probes stay cheap). */
  health(kind: FollowUpKind): HealthCheckResult {
    const last = this.last.get(kind);
    if (!last || last.ok) return { status: 'ok' };
    return { status: 'degraded', detail: last.detail ?? 'the last attempt failed' };
  }

  private async drain(): Promise<void> {
    const { store, logger, options } = this.deps;
    try {
      for (;;) {
        if (this.stopped) return;
        const claimed = await store.claimDue(5, options.leaseMs, options.owner);
        if (claimed.length === 0) return;
        for (const row of claimed) this.tookOver(row);
        // Rows claimed in one batch wait their turn: all of them keep their lease meanwhile.
        const held = new Set(claimed.map((row) => row.id));
        const beat = setInterval(() => {
          if (this.stopped) return; // a stopped worker's rows are taken over by the next owner
          store.heartbeat([...held], options.owner, options.leaseMs).catch((error: unknown) => {
            logger.warn(`follow-up heartbeat failed: ${(error as Error).message}`, {
              event: { action: 'follow-up-heartbeat', outcome: 'failure' },
            });
          });
        }, options.heartbeatMs);
        try {
          for (const row of claimed) {
            if (this.stopped) return;
            await (row.traceId ? runWithRequestId(row.traceId, () => this.process(row)) : this.process(row));
            held.delete(row.id);
          }
        } finally {
          clearInterval(beat);
        }
      }
    } catch (error) {
      // The database is down: the next sweep tries again.
      logger.warn(`follow-up worker could not read its queue: ${(error as Error).message}`, {
        event: { action: 'follow-up', outcome: 'failure' },
      });
    }
  }

  private tookOver(row: ClaimedFollowUp): void {
    if (row.previousOwner === null || row.previousOwner === this.deps.options.owner) return;
    this.deps.metrics.takeover(row.kind);
    this.deps.logger.warn(
      `follow-up ${row.id} taken over: its owner ${row.previousOwner} stopped heartbeating`,
      {
        event: { action: 'follow-up-takeover', outcome: 'success' },
        labels: { follow_up_id: String(row.id), kind: row.kind, previous_owner: row.previousOwner },
      },
    );
  }

  private async process(row: ClaimedFollowUp): Promise<void> {
    const { store, metrics, logger, options } = this.deps;
    const labels = { follow_up_id: String(row.id), request_id: String(row.requestId), kind: row.kind };
    const handler = this.deps.handlers[row.kind];
    if (!handler) {
      // Stored by a replica configured differently: leave it for one that can do it.
      await store.retryLater(row.id, `this replica cannot do '${row.kind}'`, options.maxRetryDelayMs);
      return;
    }
    try {
      const done = await handler.run(row.payload, row.attempts);
      await store.markDone(row.id, done.result);
      metrics.outcome(row.kind, done.outcome);
      this.last.set(row.kind, { ok: true });
      logger.info(`${handler.noun}: ${done.summary}`, {
        event: { action: row.kind, outcome: 'success' },
        labels,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const retryable = error instanceof JiraCallError ? error.retryable : true;
      this.last.set(row.kind, { ok: false, detail: message });
      if (retryable && row.attempts < options.maxAttempts) {
        const backoff = Math.min(options.maxRetryDelayMs, options.retryBaseMs * 2 ** (row.attempts - 1));
        const delay = error instanceof JiraCallError && error.retryAfterMs ? error.retryAfterMs : backoff;
        await store.retryLater(row.id, message, delay);
        metrics.outcome(row.kind, 'retry');
        logger.warn(
          `${handler.noun} not done yet (attempt ${row.attempts}, next in ${delay} ms): ${message}`,
          {
            event: { action: row.kind, outcome: 'unknown' },
            labels,
          },
        );
        return;
      }
      await store.markFailed(row.id, message);
      metrics.outcome(row.kind, 'failed');
      logger.error(`${handler.noun} could not be delivered after ${row.attempts} attempt(s): ${message}`, {
        event: { action: row.kind, outcome: 'failure' },
        labels,
      });
    }
  }
}
