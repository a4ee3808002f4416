import { isConnectionError } from './database-errors.js';

export interface StatementCoalescerOptions<In, Out> {
  /** Runs one statement for the batch: one result per input, in the inputs' order. */
  run(batch: In[]): Promise<Out[]>;
  /** Inputs per statement at most. */
  maxBatch: number;
  /** Statements in flight at once; inputs arriving past it wait and go together in the next one. */
  maxInFlight: number;
}

interface Pending<In, Out> {
  input: In;
  resolve(out: Out): void;
  reject(error: unknown): void;
}

/**
 * Turns many single-row statements into fewer multi-row ones, without ever delaying one: an input is
 * sent at once while fewer than `maxInFlight` statements run; inputs that arrive while they do go
 * together as soon as one finishes. Under load that is one round trip, one executor start-up and (for
 * a write) one commit for several rows instead of one each. Every input still gets its own result or
 * its own error:
 * - a statement PostgreSQL rejected changed nothing, so its inputs are tried again one by one (one
 *   bad input never fails the others);
 * - a lost connection may have committed or not: those inputs fail as a single statement would,
 *   never retried (a retried write could be stored twice).
 */
export class StatementCoalescer<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private inFlight = 0;

  constructor(private readonly options: StatementCoalescerOptions<In, Out>) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async send(batch: Pending<In, Out>[]): Promise<void> {
    try {
      const results = await this.run(batch);
      batch.forEach((pending, i) => pending.resolve(results[i] as Out));
    } catch (error) {
      if (batch.length === 1 || !rejectedByServer(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      await Promise.all(
        batch.map(async (pending) => {
          try {
            pending.resolve((await this.run([pending]))[0] as Out);
          } catch (alone) {
            pending.reject(alone);
          }
        }),
      );
    }
  }

  private async run(batch: Pending<In, Out>[]): Promise<Out[]> {
    const results = await this.options.run(batch.map((pending) => pending.input));
    if (results.length !== batch.length)
      throw new Error(`a statement for ${batch.length} rows returned ${results.length} results`);
    return results;
  }
}

/** PostgreSQL answered with an error: the statement, and its implicit transaction, changed nothing. */
function rejectedByServer(error: unknown): boolean {
  if (isConnectionError(error)) return false;
  const driver = (error as { cause?: unknown }).cause ?? error;
  const { code, severity } = driver as { code?: unknown; severity?: unknown };
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}
