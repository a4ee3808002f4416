import type { Logger } from '@workemon/logger';
import pg from 'pg';
import type { ExchangeSettledFeedPort } from '../domain/ports.js';

/** The channel the `requests_settled_notify` trigger (migration 0002) notifies with the row id. */
export const EXCHANGE_SETTLED_CHANNEL = 'secretary_exchange_settled';

/**
 * LISTENs on its own connection for exchanges that settled anywhere (any replica), so a duplicate
 * request waiting for a live owner's answer wakes at once. Reconnects after a database outage.
 * PGlite served over a socket delivers a NOTIFY only to the connection that caused it: there the
 * waiters fall back to a slow re-read of the row (and in-process settles wake them directly).
 */
export class PgExchangeSettledFeed implements ExchangeSettledFeedPort {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private onSettled: (id: number) => void = () => undefined;

  constructor(private readonly options: { url: string; logger: Logger; reconnectMs?: number }) {}

  start(onSettled: (id: number) => void): void {
    this.onSettled = onSettled;
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connect(): void {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: 5_000 });
    this.client = client;
    client.on('error', () => this.reconnectLater(client));
    client.on('end', () => this.reconnectLater(client));
    client.on('notification', (message) => {
      const id = Number(message.payload);
      if (Number.isSafeInteger(id)) this.onSettled(id);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${EXCHANGE_SETTLED_CHANNEL}`))
      .catch((error: unknown) => {
        this.options.logger.debug(`exchange feed not listening yet: ${(error as Error).message}`);
        this.reconnectLater(client);
      });
  }

  private reconnectLater(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.connect(), this.options.reconnectMs ?? 2_000);
    this.timer.unref();
  }
}
