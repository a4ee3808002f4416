import type { Logger } from '@workemon/logger';
import type {
  ExchangeLeaseStorePort,
  ExchangeOwnershipMetricsPort,
  ExchangeSettledFeedPort,
  OwnerTimeouts,
} from './ports.js';

export interface ExchangeOwnershipOptions {
  /** This instance's id, recorded as the owner of the exchanges it analyses. */
  owner: string;
  /** How often the heartbeat of in-flight exchanges is renewed (and the sweep runs). */
  heartbeatMs: number;
  /** When an exchange counts as abandoned (silent owner, or older than any analysis can take). */
  timeouts: OwnerTimeouts;
  /** A waiter re-reads the row at least this often (the feed may not deliver: PGlite, outages). */
  recheckMs: number;
  /** Failure records kept in memory while the database is down, at most. */
  maxDeferredWrites?: number;
}

export interface ExchangeOwnershipDeps {
  store: ExchangeLeaseStorePort;
  feed?: ExchangeSettledFeedPort;
  metrics: ExchangeOwnershipMetricsPort;
  logger: Logger;
  options: ExchangeOwnershipOptions;
}

/**
 * Owned, heartbeated exchanges (docs/architecture.md, Reliability rules): this instance renews the heartbeat of the `pending`
 * rows it is analysing; rows whose owner went silent (a crash, a lost database) are finished as
 * `failed` by the sweep or taken over by a retry within seconds. Waiting for a live owner's answer
 * is a wait on a notification, not a polling insert.
 */
export class ExchangeOwnership {
  private readonly inFlight = new Set<number>();
  private readonly waiters = new Map<number, Set<() => void>>();
  private readonly deferred: { what: string; write: () => Promise<void> }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly deps: ExchangeOwnershipDeps) {}

  get owner(): string {
    return this.deps.options.owner;
  }

  get timeouts(): OwnerTimeouts {
    return this.deps.options.timeouts;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.timer) return;
    this.deps.feed?.start((id) => this.settled(id));
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => {
        this.ticking = undefined;
      });
    }, this.deps.options.heartbeatMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.deps.feed?.stop();
    for (const id of [...this.waiters.keys()]) this.settled(id);
  }

  /** This instance now analyses exchange `id`: its heartbeat is renewed until release. */
  track(id: number): void {
    this.inFlight.add(id);
    this.deps.metrics.inFlight(this.inFlight.size);
  }

  release(id: number): void {
    this.inFlight.delete(id);
    this.deps.metrics.inFlight(this.inFlight.size);
    this.settled(id);
  }

  /** Resolves when exchange `id` settles (here or, through the feed, anywhere) or after `ms`. */
  waitForSettled(id: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        const current = this.waiters.get(id);
        current?.delete(done);
        if (current?.size === 0) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, this.deps.options.recheckMs)));
      set.add(done);
    });
  }

  /** A retry finished an abandoned exchange of `previousOwner` and analyses the message itself. */
  tookOver(id: number, previousOwner: string | null): void {
    this.deps.metrics.takeover('retry');
    this.deps.logger.warn(
      `exchange ${id} taken over by a retry: its owner ${previousOwner ?? '(unknown)'} stopped heartbeating`,
      {
        event: { action: 'exchange-takeover', outcome: 'success' },
        labels: { exchange_id: String(id), previous_owner: previousOwner ?? '', by: 'retry' },
      },
    );
    this.settled(id);
  }

  /**
   * A write that must not be lost (the failure record of an exchange) failed because the database is
   * down: it is retried on every tick until it succeeds (bounded; the sweep finishes what is dropped).
   */
  defer(what: string, write: () => Promise<void>): void {
    const max = this.deps.options.maxDeferredWrites ?? 1_000;
    if (this.deferred.length >= max) {
      this.deps.logger.error(`dropping a deferred write (${what}): ${max} already wait for the database`, {
        event: { action: 'exchange-deferred-write', outcome: 'failure' },
      });
      return;
    }
    this.deferred.push({ what, write });
  }

  /** One heartbeat round: renew ours, retry deferred writes, finish exchanges whose owner died. */
  async tick(): Promise<void> {
    const { store, metrics, logger, options } = this.deps;
    if (this.inFlight.size > 0) {
      try {
        await store.heartbeat(options.owner, [...this.inFlight]);
        metrics.heartbeat('ok');
      } catch (error) {
        metrics.heartbeat('failed');
        logger.warn(`exchange heartbeat failed: ${(error as Error).message}`, {
          event: { action: 'exchange-heartbeat', outcome: 'failure' },
        });
      }
    }
    while (this.deferred.length > 0) {
      const next = this.deferred[0]!;
      try {
        await next.write();
        this.deferred.shift();
        logger.info(`deferred write done: ${next.what}`, {
          event: { action: 'exchange-deferred-write', outcome: 'success' },
        });
      } catch {
        return; // still down: the next tick tries again
      }
    }
    try {
      const finished = await store.finishAbandoned(options.timeouts);
      for (const row of finished) {
        metrics.takeover('sweep');
        logger.warn(
          `exchange ${row.id} finished as failed: its owner ${row.owner ?? '(unknown)'} stopped heartbeating`,
          {
            event: { action: 'exchange-takeover', outcome: 'success' },
            labels: { exchange_id: String(row.id), previous_owner: row.owner ?? '', by: 'sweep' },
          },
        );
        this.settled(row.id);
      }
    } catch (error) {
      logger.warn(`sweep of abandoned exchanges failed: ${(error as Error).message}`, {
        event: { action: 'exchange-takeover', outcome: 'failure' },
      });
    }
  }

  private settled(id: number): void {
    const set = this.waiters.get(id);
    if (!set) return;
    for (const done of [...set]) done();
  }
}
