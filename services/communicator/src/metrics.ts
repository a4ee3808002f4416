import { LATENCY_BUCKETS, promClient, type ServiceMetrics } from '@workemon/http-kit';

export interface CommunicatorMetrics {
  channelMessages: promClient.Counter<'channel' | 'outcome'>;
  imapPollDuration: promClient.Histogram<'outcome'>;
  imapLastPoll: promClient.Gauge;
  ledgerBacklog: promClient.Gauge<'status'>;
  replyLatency: promClient.Histogram<'channel'>;
  quarantined: promClient.Counter<'channel'>;
}

/**
 * Channel metrics on the service registry. The backlog gauge is computed at
 * scrape time from the ledger (`countBacklog`), so every replica reports the
 * shared truth rather than its own view.
 */
export function createCommunicatorMetrics(
  service: ServiceMetrics,
  countBacklog: () => Promise<Record<string, number>>,
): CommunicatorMetrics {
  const registers = [service.registry];
  return {
    channelMessages: new promClient.Counter({
      name: 'channel_messages_total',
      help: 'Inbound channel messages by final outcome (replied, skipped, quarantined, retried, received)',
      labelNames: ['channel', 'outcome'],
      registers,
    }),
    imapPollDuration: new promClient.Histogram({
      name: 'communicator_imap_poll_duration_seconds',
      help: 'Duration of one IMAP poll (search + fetch + ledger insert)',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    imapLastPoll: new promClient.Gauge({
      name: 'communicator_imap_last_poll_timestamp_seconds',
      help: 'Unix time of the last successful IMAP poll',
      registers,
    }),
    ledgerBacklog: new promClient.Gauge({
      name: 'communicator_ledger_backlog',
      help: 'Inbound ledger rows by status',
      labelNames: ['status'],
      registers,
      async collect() {
        try {
          const counts = await countBacklog();
          this.reset();
          for (const status of ['received', 'processing', 'answered', 'replied', 'skipped', 'quarantined']) {
            this.set({ status }, counts[status] ?? 0);
          }
        } catch {
          // Database unreachable: the health check reports it; keep the last values.
        }
      },
    }),
    replyLatency: new promClient.Histogram({
      name: 'communicator_reply_latency_seconds',
      help: 'Time from a message entering the ledger to its reply being accepted by the channel',
      labelNames: ['channel'],
      buckets: [...LATENCY_BUCKETS, 120, 300, 900],
      registers,
    }),
    quarantined: new promClient.Counter({
      name: 'communicator_quarantined_total',
      help: 'Messages quarantined (poison, permanent failure, broken MIME)',
      labelNames: ['channel'],
      registers,
    }),
  };
}
