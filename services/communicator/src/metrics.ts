import {
  LATENCY_BUCKETS,
  metricsOn,
  type promClient,
  scrapeReading,
  type ServiceMetrics,
} from '@workemon/http-kit';
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
  const m = metricsOn(service.registry);
  // One query per scrape feeds the three ledger gauges (collected concurrently).
  const stats = scrapeReading(ledgerStats);
  m.gauge(
    'communicator_ledger_orphaned_rows',
    'Open ledger rows whose owner stopped sending heartbeats (a process died holding them), not yet taken over',
    {
      async collect() {
        const latest = await stats();
        if (latest) this.set(latest.orphaned);
      },
    },
  );
  m.gauge(
    'communicator_ledger_oldest_open_seconds',
    'Age of the oldest ledger row not yet replied, skipped or quarantined (0 when none)',
    {
      async collect() {
        const latest = await stats();
        if (latest) this.set(latest.oldestOpenSeconds);
      },
    },
  );
  return {
    channelMessages: m.counter(
      'channel_messages_total',
      'Inbound channel messages by final outcome (replied, skipped, quarantined, retried, received)',
      ['channel', 'outcome'],
    ),
    imapPollDuration: m.histogram(
      'communicator_imap_poll_duration_seconds',
      'Duration of one IMAP poll (search + fetch + ledger insert)',
      { labelNames: ['outcome'] },
    ),
    imapLastPoll: m.gauge(
      'communicator_imap_last_poll_timestamp_seconds',
      'Unix time of the last successful IMAP poll',
    ),
    ledgerBacklog: m.gauge('communicator_ledger_backlog', 'Inbound ledger rows by status', {
      labelNames: ['status'],
      async collect() {
        const latest = await stats();
        if (!latest) return;
        this.reset();
        for (const status of STATUSES) this.set({ status }, latest.counts[status] ?? 0);
      },
    }),
    replyLatency: m.histogram(
      'communicator_reply_latency_seconds',
      'Time from a message entering the ledger to its reply being accepted by the channel',
      { labelNames: ['channel'], buckets: [...LATENCY_BUCKETS, 120, 300, 900] },
    ),
    quarantined: m.counter(
      'communicator_quarantined_total',
      'Messages quarantined (poison, permanent failure, broken MIME)',
      ['channel'],
    ),
    failures: m.counter(
      'communicator_ledger_failures_total',
      'Failed attempts by kind: outage (peer down; retried, never counted), message (counts an attempt), permanent (quarantined at once)',
      ['channel', 'kind'],
    ),
    takeovers: m.counter(
      'communicator_ledger_takeovers_total',
      'Rows taken over from an owner that stopped beating (each then runs alone; a crash then is charged to it)',
      ['channel'],
    ),
    heartbeats: m.counter(
      'communicator_ledger_heartbeats_total',
      'Heartbeat renewals of the rows this process owns, by outcome (ok, failed, lost: a row was taken over)',
      ['outcome'],
    ),
    ownershipLost: m.counter(
      'communicator_ledger_ownership_lost_total',
      'Rows this process was still working on when another worker took them over (work abandoned, nothing sent)',
      ['channel'],
    ),
    ambiguousSends: m.counter(
      'channel_ambiguous_sends_total',
      'Replies sent again after an interrupted send with no way to check whether the first one arrived',
      ['channel'],
    ),
    sentChecks: m.counter(
      'communicator_sent_checks_total',
      'Interrupted sends checked before any resend, by result (sent: not resent; not-sent; unknown: resent as ambiguous)',
      ['channel', 'result'],
    ),
    parseCrashes: m.counter(
      'communicator_mail_parse_crashes_total',
      'Mails found to have been parsing when a previous process died (a mail that keeps doing it is quarantined)',
    ),
  };
}
