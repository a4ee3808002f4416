import { metricsOn, type Registry, scrapeReading } from '@workemon/http-kit';
import type { ExchangeOwnershipMetricsPort } from './domain/ports.js';

/**
 * Exchange states and ownership: exchanges_pending and exchange_oldest_pending_seconds (read from
 * the table at scrape time, so every replica reports the shared ledger), exchanges_in_flight (this
 * instance), exchange_takeovers_total{by} and exchange_heartbeats_total{outcome}.
 */
export function createExchangeMetrics(
  registry: Registry,
  pendingStats: () => Promise<{ count: number; oldestSeconds: number }>,
): ExchangeOwnershipMetricsPort {
  const m = metricsOn(registry);
  // One read of the table serves both gauges of a scrape.
  const stats = scrapeReading(pendingStats);
  m.gauge(
    'exchanges_pending',
    'Exchanges (secretary.requests) in state pending: being analysed, or left by a dead owner until taken over',
    {
      async collect() {
        const latest = await stats();
        if (latest) this.set(latest.count);
      },
    },
  );
  m.gauge('exchange_oldest_pending_seconds', 'Age of the oldest pending exchange in seconds (0 when none)', {
    async collect() {
      const latest = await stats();
      if (latest) this.set(latest.oldestSeconds);
    },
  });
  const inFlight = m.gauge(
    'exchanges_in_flight',
    'Exchanges this instance is analysing now (their heartbeat is renewed)',
  );
  const takeovers = m.counter(
    'exchange_takeovers_total',
    'Pending exchanges whose owner stopped heartbeating, finished as failed: by a retry (which then answers) or by the sweep',
    ['by'],
  );
  const heartbeats = m.counter(
    'exchange_heartbeats_total',
    'Heartbeat rounds for the exchanges in flight, by outcome',
    ['outcome'],
  );
  for (const by of ['retry', 'sweep']) takeovers.inc({ by }, 0);
  for (const outcome of ['ok', 'failed']) heartbeats.inc({ outcome }, 0);
  return {
    takeover: (by) => takeovers.inc({ by }),
    heartbeat: (outcome) => heartbeats.inc({ outcome }),
    inFlight: (count) => inFlight.set(count),
  };
}
