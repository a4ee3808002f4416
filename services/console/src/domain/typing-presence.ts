import type { ConversationKey } from '@workemon/contracts';

export interface TypingEvent {
  type: 'typing';
  channel: string;
  username: string;
  operator: string;
  /** ISO time after which the hint is stale unless another ping came. */
  until: string;
}

/**
 * "Who is typing" in a conversation: a hint for operators, so two of them do not write the same
 * answer (the reply's idempotency key and the take-over are what actually prevent two sends).
 * A composer pings while its operator types; each ping is passed on to every open page at most
 * once per `throttleMs` per operator and conversation, and holds for `holdMs`. Kept in memory:
 * a hint, not a record — on several console replicas an operator sees those on the same one.
 */
export class TypingPresence {
  private readonly lastSent = new Map<string, number>();

  constructor(
    private readonly deps: {
      publish: (event: TypingEvent) => void;
      holdMs: number;
      throttleMs: number;
      clock?: () => number;
    },
  ) {}

  /** Returns whether the ping was passed on (false: a repeat within the throttle window). */
  ping(key: ConversationKey, operator: string): boolean {
    const now = this.deps.clock?.() ?? Date.now();
    const id = JSON.stringify([key.channel, key.username, operator]);
    const last = this.lastSent.get(id);
    if (last !== undefined && now - last < this.deps.throttleMs) return false;
    this.lastSent.set(id, now);
    this.forgetStale(now);
    this.deps.publish({
      type: 'typing',
      channel: key.channel,
      username: key.username,
      operator,
      until: new Date(now + this.deps.holdMs).toISOString(),
    });
    return true;
  }

  /** Entries older than the hold are of no use: the map stays as small as the people typing now. */
  private forgetStale(now: number): void {
    if (this.lastSent.size < 256) return;
    for (const [id, at] of this.lastSent) if (now - at > this.deps.holdMs) this.lastSent.delete(id);
  }
}
