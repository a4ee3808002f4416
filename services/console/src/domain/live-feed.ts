import type { InboxChanges } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import type { TypingEvent } from './typing-presence.js';

export type LiveEvent =
  { type: 'inbox'; version: string } | { type: 'status'; upstream: 'ok' | 'unavailable' } | TypingEvent;

export interface LiveListener {
  (event: LiveEvent): void;
}

/**
 * Live updates for browsers: while at least one listens, the console asks the secretary for the
 * inbox version every interval and tells every listener when it moved. One poll serves all
 * browsers; nobody listening costs nothing. A secretary outage is reported once, not per poll.
 */
export class LiveFeed {
  private readonly listeners = new Set<LiveListener>();
  private readonly greet = new Set<LiveListener>();
  private timer: NodeJS.Timeout | undefined;
  private lastVersion: string | undefined;
  private upstreamOk = true;
  private polling = false;

  constructor(
    private readonly deps: {
      changes: () => Promise<InboxChanges>;
      intervalMs: number;
      logger: Logger;
      onListeners?: (count: number) => void;
    },
  ) {}

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    // A browser renders, then connects: whatever changed in between reaches it with the next poll.
    this.greet.add(listener);
    this.deps.onListeners?.(this.listeners.size);
    this.timer ??= setInterval(() => void this.poll(), this.deps.intervalMs);
    return () => {
      this.listeners.delete(listener);
      this.greet.delete(listener);
      this.deps.onListeners?.(this.listeners.size);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const { version } = await this.deps.changes();
      if (!this.upstreamOk) this.broadcast({ type: 'status', upstream: 'ok' });
      this.upstreamOk = true;
      if (this.lastVersion !== undefined && version !== this.lastVersion)
        this.broadcast({ type: 'inbox', version });
      else for (const listener of this.greet) listener({ type: 'inbox', version });
      this.greet.clear();
      this.lastVersion = version;
    } catch (error) {
      if (this.upstreamOk) {
        this.deps.logger.warn(`live updates paused: ${(error as Error).message}`);
        this.broadcast({ type: 'status', upstream: 'unavailable' });
      }
      this.upstreamOk = false;
    } finally {
      this.polling = false;
    }
  }

  /** Passes an event from this console (an operator typing) to every open page. */
  publish(event: TypingEvent): void {
    this.broadcast(event);
  }

  private broadcast(event: LiveEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
