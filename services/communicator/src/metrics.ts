import { LATENCY_BUCKETS, promClient, type ServiceMetrics } from '@workemon/http-kit';
import type { LedgerStats } from './data/inbound-ledger-repository.js';

export interface CommunicatorMetrics {
  channelMessages: promClient.Counter<'channel' | 'outcome'>;
  imapPollDuration: promClient.Histogram<'outcome'>;
  imapLastPoll: promClient.Gauge;
  ledgerBacklog: promClient.Gauge<'status'>;
  replyLatency: promClient.Histogram<'channel'>;
  quarantined: promClient.Counter<'channel'>;
  failures: promClient.Counter<'channel' | 'kind'>;
  takeovers: promClient.Counter<'channel'>;
  heartbeats: promClient.Counter<'outcome'>;
  ownershipLost: promClient.Counter<'channel'>;
  ambiguousSends: promClient.Counter<'channel'>;
  sentChecks: promClient.Counter<'channel' | 'result'>;
  parseCrashes: promClient.Counter;
}

/** Every ledger status, for gauges that must show zeros too. */
const STATUSES = ['received', 'processing', 'answered', 'sending', 'replied', 'skipped', 'quarantined'];

/**
 * Channel metrics on the service registry. The backlog gauge is computed at
 * scrape time from the ledger (`countBacklog`), so every replica reports the
 * shared truth rather than its own view.
 */
export function createCommunicatorMetrics(
  service: ServiceMetrics,
  ledgerStats: () => Promise<LedgerStats>,
): CommunicatorMetrics {
  const registers = [service.registry];
  // One query per scrape feeds the three ledger gauges (collected concurrently): shared for 1 s.
  let cached: { at: number; stats: Promise<LedgerStats> } | undefined;
  const stats = async (): Promise<LedgerStats | undefined> => {
    if (!cached || Date.now() - cached.at > 1_000) cached = { at: Date.now(), stats: ledgerStats() };
    try {
      return await cached.stats;
    } catch {
      return undefined; // Database unreachable: the health check reports it; keep the last values.
    }
  };
  new promClient.Gauge({
    name: 'communicator_ledger_orphaned_rows',
    help: 'Open ledger rows whose owner stopped sending heartbeats (a process died holding them), not yet taken over',
    registers,
    async collect() {
      const latest = await stats();
      if (latest) this.set(latest.orphaned);
    },
  });
  new promClient.Gauge({
    name: 'communicator_ledger_oldest_open_seconds',
    help: 'Age of the oldest ledger row not yet replied, skipped or quarantined (0 when none)',
    registers,
    async collect() {
      const latest = await stats();
      if (latest) this.set(latest.oldestOpenSeconds);
    },
  });
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
        const latest = await stats();
        if (!latest) return;
        this.reset();
        for (const status of STATUSES) this.set({ status }, latest.counts[status] ?? 0);
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
    failures: new promClient.Counter({
      name: 'communicator_ledger_failures_total',
      help: 'Failed attempts by kind: outage (peer down; retried, never counted), message (counts an attempt), permanent (quarantined at once)',
      labelNames: ['channel', 'kind'],
      registers,
    }),
    takeovers: new promClient.Counter({
      name: 'communicator_ledger_takeovers_total',
      help: 'Rows taken over from an owner that stopped beating (each then runs alone; a crash then is charged to it)',
      labelNames: ['channel'],
      registers,
    }),
    heartbeats: new promClient.Counter({
      name: 'communicator_ledger_heartbeats_total',
      help: 'Heartbeat renewals of the rows this process owns, by outcome (ok, failed, lost: a row was taken over)',
      labelNames: ['outcome'],
      registers,
    }),
    ownershipLost: new promClient.Counter({
      name: 'communicator_ledger_ownership_lost_total',
      help: 'Rows this process was still working on when another worker took them over (work abandoned, nothing sent)',
      labelNames: ['channel'],
      registers,
    }),
    ambiguousSends: new promClient.Counter({
      name: 'channel_ambiguous_sends_total',
      help: 'Replies sent again after an interrupted send with no way to check whether the first one arrived',
      labelNames: ['channel'],
      registers,
    }),
    sentChecks: new promClient.Counter({
      name: 'communicator_sent_checks_total',
      help: 'Interrupted sends checked before any resend, by result (sent: not resent; not-sent; unknown: resent as ambiguous)',
      labelNames: ['channel', 'result'],
      registers,
    }),
    parseCrashes: new promClient.Counter({
      name: 'communicator_mail_parse_crashes_total',
      help: 'Mails found to have been parsing when a previous process died (a mail that keeps doing it is quarantined)',
      registers,
    }),
  };
}
