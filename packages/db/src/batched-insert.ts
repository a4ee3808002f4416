import type pg from 'pg';
import { isRejectedByServer } from './database-errors.js';
import { namedQuery } from './named-query.js';

export interface BatchedInsertOptions<R> {
  /** `INSERT INTO table (columns)`: the statement up to its VALUES. */
  into: string;
  /** One row's VALUES tuple, its parameters numbered from `first`: `('completed', $first, …)`. */
  row(first: number): string;
  /** Parameters per row. */
  parameters: number;
  /** What each inserted row returns, e.g. `id, username`: one result row per row, in the rows' order. */
  returning: string;
  /**
   * Whether a returned row is the one inserted from `values`. PostgreSQL returns an INSERT … VALUES'
   * rows in the order given; this makes a different order an error instead of a wrong answer.
   */
  sameRow(row: R, values: unknown[]): boolean;
  /** Rows per statement at most. */
  maxRows: number;
  /** Statements in flight at once; rows arriving past it wait and go together in the next one. */
  maxInFlight: number;
}

interface Pending<R> {
  values: unknown[];
  resolve(row: R): void;
  reject(error: unknown): void;
}

/**
 * Client-side group commit for a constant single-row INSERT. A row is sent at once while fewer than
 * `maxInFlight` statements run (nothing is delayed at low load); rows that arrive while they do go
 * together, as one multi-row INSERT … VALUES, as soon as one finishes. Under load that is one round
 * trip, one executor start-up and one commit (one WAL flush) for several rows instead of one each.
 * Every row still gets its own result or its own error:
 * - a statement PostgreSQL rejected inserted nothing, so its rows are tried again one by one (one bad
 *   row never fails the others);
 * - a lost connection may have committed or not: those rows fail as a single insert would, never
 *   retried (a retry could store a row twice).
 * Statement texts are one per batch size (at most `maxRows`), each prepared once per connection.
 */
export class BatchedInsert<R extends pg.QueryResultRow> {
  private readonly queue: Pending<R>[] = [];
  private inFlight = 0;
  private readonly texts: string[] = [];

  constructor(
    private readonly client: Pick<pg.Pool, 'query'>,
    private readonly options: BatchedInsertOptions<R>,
  ) {}

  insert(values: unknown[]): Promise<R> {
    if (values.length !== this.options.parameters)
      return Promise.reject(
        new Error(`expected ${this.options.parameters} parameters, got ${values.length}`),
      );
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ values, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxRows);
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async send(batch: Pending<R>[]): Promise<void> {
    try {
      const rows = await this.run(batch);
      batch.forEach((pending, i) => pending.resolve(rows[i] as R));
    } catch (error) {
      if (batch.length === 1 || !isRejectedByServer(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      await Promise.all(
        batch.map(async (pending) => {
          try {
            pending.resolve((await this.run([pending]))[0] as R);
          } catch (alone) {
            pending.reject(alone);
          }
        }),
      );
    }
  }

  private async run(batch: Pending<R>[]): Promise<R[]> {
    const values: unknown[] = [];
    for (const pending of batch) values.push(...pending.values);
    const { rows } = await namedQuery<R>(this.client, this.text(batch.length), values);
    if (
      rows.length !== batch.length ||
      rows.some((row, i) => !this.options.sameRow(row, batch[i]?.values ?? []))
    )
      throw new Error(`a ${batch.length}-row insert returned other rows than it inserted`);
    return rows;
  }

  private text(rows: number): string {
    let text = this.texts[rows];
    if (text === undefined) {
      const { into, row, parameters, returning } = this.options;
      const tuples = Array.from({ length: rows }, (_, i) => row(i * parameters + 1));
      text = `${into} VALUES ${tuples.join(', ')} RETURNING ${returning}`;
      this.texts[rows] = text;
    }
    return text;
  }
}
