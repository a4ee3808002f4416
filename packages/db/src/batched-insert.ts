import type pg from 'pg';
import { namedQuery } from './named-query.js';
import { StatementCoalescer } from './statement-coalescer.js';

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
  /** Statements in flight at once. */
  maxInFlight: number;
}

/**
 * Client-side group commit for a constant single-row INSERT (see StatementCoalescer): rows that
 * arrive while inserts run go together as one multi-row INSERT … VALUES, so one commit (one WAL
 * flush) serves several. Statement texts are one per batch size (at most `maxRows`), each prepared
 * once per connection.
 */
export class BatchedInsert<R extends pg.QueryResultRow> {
  private readonly texts: string[] = [];
  private readonly coalescer: StatementCoalescer<unknown[], R>;

  constructor(
    private readonly client: Pick<pg.Pool, 'query'>,
    private readonly options: BatchedInsertOptions<R>,
  ) {
    this.coalescer = new StatementCoalescer({
      run: (batch) => this.run(batch),
      maxBatch: options.maxRows,
      maxInFlight: options.maxInFlight,
    });
  }

  insert(values: unknown[]): Promise<R> {
    if (values.length !== this.options.parameters)
      return Promise.reject(
        new Error(`expected ${this.options.parameters} parameters, got ${values.length}`),
      );
    return this.coalescer.submit(values);
  }

  private async run(batch: unknown[][]): Promise<R[]> {
    const { rows } = await namedQuery<R>(this.client, this.text(batch.length), batch.flat());
    if (rows.length !== batch.length || rows.some((row, i) => !this.options.sameRow(row, batch[i] ?? [])))
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
