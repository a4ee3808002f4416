/**
 * After start-up or a burst V8 keeps the heap it grew: its memory reducer runs only when a late major
 * collection happens to arm it, so the secretary idles at 70 MB after one start and at 80 after the
 * next, and settles at 1.2× that after one burst and at 1.9× after another. One full collection once
 * the service has been quiet for a few seconds returns it every time.
 * It needs `--expose-gc` (in the launcher's and the image's runtime settings); without it, nothing runs.
 */
export interface IdleHeapSettlerOptions {
  /** Quiet this long (no request started) before collecting. */
  idleMs?: number;
  /** How often quietness is checked. */
  checkMs?: number;
  /** Requests since the last collection that make one worth it: health probes alone never do. */
  minRequests?: number;
  /** The collection; default the runtime's `gc` when exposed. */
  collect?: (() => void) | undefined;
  now?: () => number;
}

export class IdleHeapSettler {
  private requests = 0;
  private seen = 0;
  /** Start-up (loading, migrations, the knowledge sync) is a burst too: the first quiet spell collects. */
  private atCollection: number;
  private lastActive: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  private readonly minRequests: number;
  private readonly collect: (() => void) | undefined;
  private readonly now: () => number;

  constructor(options: IdleHeapSettlerOptions = {}) {
    this.idleMs = options.idleMs ?? 5_000;
    this.minRequests = options.minRequests ?? 200;
    this.atCollection = -this.minRequests;
    this.collect = 'collect' in options ? options.collect : exposedGc();
    this.now = options.now ?? (() => performance.now());
    this.lastActive = this.now();
    if (this.collect && options.checkMs !== 0)
      this.timer = setInterval(() => this.check(), options.checkMs ?? 1_000).unref();
  }

  /** A request started (one counter increment: this is on every request's path). */
  activity(): void {
    this.requests++;
  }

  /** Collects once when enough requests came and then none for idleMs; true when it did. */
  check(): boolean {
    const now = this.now();
    if (this.requests !== this.seen) {
      this.seen = this.requests;
      this.lastActive = now;
      return false;
    }
    if (!this.collect || this.requests - this.atCollection < this.minRequests) return false;
    if (now - this.lastActive < this.idleMs) return false;
    this.atCollection = this.requests;
    this.collect();
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function exposedGc(): (() => void) | undefined {
  const gc: unknown = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
}
