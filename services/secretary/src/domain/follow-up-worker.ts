import type { HealthCheckResult } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import type { CreateJiraTaskUseCase } from './create-jira-task-use-case.js';
import { JiraCallError } from './jira-call-error.js';
import type { ClaimedFollowUp, FollowUpMetricsPort, FollowUpStorePort, JiraTaskPayload } from './ports.js';

export interface FollowUpWorkerOptions {
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to maxRetryDelayMs (Retry-After wins when given). */
  retryBaseMs: number;
  maxRetryDelayMs: number;
  /** How long a claimed row stays ours; a crashed replica's rows become due again after it. */
  leaseMs: number;
  /** Safety net for rows whose kick was lost (crash, another replica): how often due rows are looked for. */
  sweepIntervalMs: number;
}

export interface FollowUpWorkerDeps {
  store: FollowUpStorePort;
  createJiraTask: CreateJiraTaskUseCase;
  metrics: FollowUpMetricsPort;
  logger: Logger;
  options: FollowUpWorkerOptions;
}

/**
 * Does the follow-ups stored with exchanges (today: Jira issues), outside the request path:
 * the person's answer never waits for Jira, and nothing is lost when Jira or this process is down.
 */
export class FollowUpWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private last: { ok: boolean; detail?: string } | undefined;

  constructor(private readonly deps: FollowUpWorkerDeps) {}

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

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  health(): HealthCheckResult {
    if (!this.last || this.last.ok) return { status: 'ok' };
    return { status: 'degraded', detail: this.last.detail ?? 'the last Jira call failed' };
  }

  private async drain(): Promise<void> {
    const { store, logger, options } = this.deps;
    try {
      for (;;) {
        if (this.stopped) return;
        const claimed = await store.claimDue(5, options.leaseMs);
        if (claimed.length === 0) return;
        for (const row of claimed) await this.process(row);
      }
    } catch (error) {
      // The database is down: the next sweep tries again.
      logger.warn(`follow-up worker could not read its queue: ${(error as Error).message}`, {
        event: { action: 'follow-up', outcome: 'failure' },
      });
    }
  }

  private async process(row: ClaimedFollowUp): Promise<void> {
    const { store, metrics, logger, options } = this.deps;
    const labels = { follow_up_id: String(row.id), request_id: String(row.requestId), kind: row.kind };
    try {
      const { issue, existing } = await this.deps.createJiraTask.execute(
        row.payload as unknown as JiraTaskPayload,
        row.attempts === 1,
      );
      await store.markDone(row.id, { key: issue.key, url: issue.url });
      metrics.outcome(row.kind, existing ? 'found_existing' : 'created');
      this.last = { ok: true };
      logger.info(`jira issue ${issue.key} ${existing ? 'found (filed by an earlier attempt)' : 'created'}`, {
        event: { action: 'jira-task', outcome: 'success' },
        labels: { ...labels, jira_issue: issue.key },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const retryable = error instanceof JiraCallError ? error.retryable : true;
      this.last = { ok: false, detail: message };
      if (retryable && row.attempts < options.maxAttempts) {
        const backoff = Math.min(options.maxRetryDelayMs, options.retryBaseMs * 2 ** (row.attempts - 1));
        const delay = error instanceof JiraCallError && error.retryAfterMs ? error.retryAfterMs : backoff;
        await store.retryLater(row.id, message, delay);
        metrics.outcome(row.kind, 'retry');
        logger.warn(`jira issue not filed yet (attempt ${row.attempts}, next in ${delay} ms): ${message}`, {
          event: { action: 'jira-task', outcome: 'unknown' },
          labels,
        });
        return;
      }
      await store.markFailed(row.id, message);
      metrics.outcome(row.kind, 'failed');
      logger.error(`jira issue could not be filed after ${row.attempts} attempt(s): ${message}`, {
        event: { action: 'jira-task', outcome: 'failure' },
        labels,
      });
    }
  }
}
