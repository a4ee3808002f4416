import type { HealthCheckResult } from '@workemon/contracts';
import type { Logger } from '@workemon/logger';
import pg from 'pg';
import { TelegramError } from 'telegraf';
import type { Update } from 'telegraf/types';
import type { TelegramBotClient } from '../clients/telegram-bot-client.js';
import type { CheckpointRepository } from '../data/checkpoint-repository.js';
import type { InboundLedgerRepository } from '../data/inbound-ledger-repository.js';
import { updateToLedgerRow } from '../domain/telegram-update.js';
import type { CommunicatorMetrics } from '../metrics.js';
import { Wakeable } from './wakeable.js';

/** Advisory-lock class for "Telegram poller"; the object id is the bot id. */
const LOCK_CLASS = 0x574d5447; // "WMTG"

export type TelegramRole = 'starting' | 'leader' | 'follower' | 'stopped';

/**
 * Records a batch of updates in the ledger, then advances the checkpoint; the
 * next getUpdates(offset) confirms them to Telegram only after that. Shared by
 * polling and webhook mode.
 */
export async function recordUpdates(
  updates: Update[],
  deps: {
    bot: TelegramBotClient;
    ledger: InboundLedgerRepository;
    metrics: CommunicatorMetrics;
    maxChars: number;
  },
): Promise<number> {
  const me = await deps.bot.getMe();
  const rows = updates.flatMap((u) => {
    const row = updateToLedgerRow(u, { id: me.id, username: me.username }, deps.maxChars);
    return row ? [row] : [];
  });
  const inserted = await deps.ledger.record(rows);
  for (const row of inserted) {
    deps.metrics.channelMessages.inc({
      channel: 'tg',
      outcome: row.status === 'skipped' ? 'skipped' : 'received',
    });
  }
  return inserted.length;
}

/**
 * Long polling with our own getUpdates loop instead of telegraf's launch():
 * telegraf confirms a batch (next offset) before its handlers finish, so a
 * crash loses updates. Here a batch is in the ledger before its offset is
 * confirmed. A Postgres advisory lock held on a dedicated connection makes one
 * replica the poller (two pollers on one token get 409 from Telegram); the
 * others retry the lock periodically and take over when the leader dies.
 */
export class TelegramPoller {
  private readonly wakeable = new Wakeable();
  private stopped = false;
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private lockClient: pg.Client | undefined;
  private role: TelegramRole = 'starting';
  private lastPollAt: number | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly deps: {
      databaseUrl: string;
      bot: TelegramBotClient;
      ledger: InboundLedgerRepository;
      checkpoints: CheckpointRepository;
      metrics: CommunicatorMetrics;
      logger: Logger;
      pollTimeoutSeconds: number;
      leaderRetryMs: number;
      maxChars: number;
      onNewWork: () => void;
    },
  ) {}

  get checkpointKey(): string {
    return `tg:${this.deps.bot.botId}`;
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wakeable.wake();
    await this.running;
    this.role = 'stopped';
  }

  health(): HealthCheckResult {
    if (this.role === 'follower')
      return { status: 'ok', detail: 'standby: another replica holds the poller lock' };
    if (this.role === 'leader') {
      const age =
        this.lastPollAt === undefined ? undefined : Math.round((Date.now() - this.lastPollAt) / 1000);
      if (this.lastError && (age === undefined || age > 2 * this.deps.pollTimeoutSeconds + 10)) {
        return { status: 'degraded', detail: `leader, polling failing: ${this.lastError}` };
      }
      return {
        status: 'ok',
        detail: `leader, polling${age === undefined ? '' : `; last poll ${age} s ago`}`,
      };
    }
    return { status: 'degraded', detail: `${this.role}${this.lastError ? `: ${this.lastError}` : ''}` };
  }

  get currentRole(): TelegramRole {
    return this.role;
  }

  private async run(): Promise<void> {
    const { logger } = this.deps;
    // Grows while polling cannot start (a revoked token answers getMe with 401 forever).
    let restartDelay = 1_000;
    while (!this.stopped) {
      let leader = false;
      try {
        leader = await this.tryAcquireLock();
      } catch (error) {
        this.lastError = `lock: ${(error as Error).message}`;
      }
      if (!leader) {
        await this.releaseLock();
        this.role = 'follower';
        await this.wakeable.sleep(this.deps.leaderRetryMs, () => this.stopped);
        continue;
      }
      this.role = 'leader';
      logger.info('telegram poller lock acquired: this replica polls');
      let wait = 1_000;
      try {
        await this.pollWhileLeader();
        restartDelay = 1_000;
      } catch (error) {
        this.lastError = (error as Error).message;
        wait = restartDelay;
        restartDelay = Math.min(restartDelay * 2, 60_000);
        logger.warn(`telegram polling stopped, restarting in ${wait} ms: ${this.lastError}`);
      }
      await this.releaseLock();
      if (!this.stopped) await this.wakeable.sleep(wait, () => this.stopped);
    }
  }

  private async tryAcquireLock(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.deps.databaseUrl });
    client.on('error', (error) => {
      // Losing the lock connection means losing the lock: stop polling at once.
      this.lastError = `lock connection: ${error.message}`;
      if (this.lockClient === client) this.lockClient = undefined;
      this.abort?.abort();
    });
    client.on('end', () => {
      if (this.lockClient === client) {
        this.lockClient = undefined;
        this.abort?.abort();
      }
    });
    await client.connect();
    this.lockClient = client;
    const objectId = Number(BigInt(this.deps.bot.botId.replace(/\D/g, '') || '0') % 2147483647n);
    const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
      LOCK_CLASS,
      objectId,
    ]);
    return result.rows[0]?.locked === true;
  }

  private async releaseLock(): Promise<void> {
    const client = this.lockClient;
    this.lockClient = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async pollWhileLeader(): Promise<void> {
    const { bot, checkpoints, logger } = this.deps;
    await bot.getMe();
    // Best effort: a webhook left behind makes getUpdates fail with 409, which is logged below and
    // retried; a Bot API peer without deleteWebhook must not keep the poller from starting.
    await bot.deleteWebhook().catch((error: unknown) => {
      logger.warn(`deleteWebhook failed, polling anyway: ${(error as Error).message}`);
    });
    const checkpoint = await checkpoints.get(this.checkpointKey);
    let offset = checkpoint ? checkpoint.lastUid + 1 : 0;
    let backoff = 1_000;
    while (!this.stopped && this.lockClient) {
      this.abort = new AbortController();
      let updates: Update[];
      try {
        updates = await bot.getUpdates(offset, this.deps.pollTimeoutSeconds, this.abort.signal);
        this.lastPollAt = Date.now();
        this.lastError = undefined;
        backoff = 1_000;
      } catch (error) {
        if (this.stopped || !this.lockClient) return;
        const wait = this.pollFailureWait(error, backoff);
        this.lastError = (error as Error).message;
        logger.warn(`getUpdates failed, retrying in ${wait} ms: ${this.lastError}`);
        backoff = Math.min(backoff * 2, 60_000);
        await this.wakeable.sleep(wait, () => this.stopped);
        continue;
      }
      if (updates.length === 0) continue;
      await recordUpdates(updates, this.deps);
      const lastId = Math.max(...updates.map((u) => u.update_id));
      await checkpoints.set(this.checkpointKey, { uidvalidity: null, lastUid: lastId });
      offset = lastId + 1;
      this.deps.onNewWork();
    }
  }

  private pollFailureWait(error: unknown, backoff: number): number {
    if (error instanceof TelegramError) {
      if (error.code === 429) return (error.parameters?.retry_after ?? 5) * 1000;
      if (error.code === 401) return 60_000;
    }
    return backoff / 2 + Math.random() * (backoff / 2);
  }
}
