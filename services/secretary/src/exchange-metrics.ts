import { promClient, type Registry } from '@workemon/http-kit';
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
  // One read of the table serves both gauges of a scrape.
  let stats: Promise<{ count: number; oldestSeconds: number }> | undefined;
  const read = () => {
    stats ??= pendingStats().finally(() => {
      setTimeout(() => (stats = undefined), 1_000).unref();
    });
    return stats;
  };
  new promClient.Gauge({
    name: 'exchanges_pending',
    help: 'Exchanges (secretary.requests) in state pending: being analysed, or left by a dead owner until taken over',
    registers: [registry],
    async collect() {
      try {
        this.set((await read()).count);
      } catch {
        // database down: no fresh value for this scrape; /health says why
      }
    },
  });
  new promClient.Gauge({
    name: 'exchange_oldest_pending_seconds',
    help: 'Age of the oldest pending exchange in seconds (0 when none)',
    registers: [registry],
    async collect() {
      try {
        this.set((await read()).oldestSeconds);
      } catch {
        // database down: no fresh value for this scrape
      }
    },
  });
  const inFlight = new promClient.Gauge({
    name: 'exchanges_in_flight',
    help: 'Exchanges this instance is analysing now (their heartbeat is renewed)',
    registers: [registry],
  });
  const takeovers = new promClient.Counter({
    name: 'exchange_takeovers_total',
    help: 'Pending exchanges whose owner stopped heartbeating, finished as failed: by a retry (which then answers) or by the sweep',
    labelNames: ['by'],
    registers: [registry],
  });
  const heartbeats = new promClient.Counter({
    name: 'exchange_heartbeats_total',
    help: 'Heartbeat rounds for the exchanges in flight, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  for (const by of ['retry', 'sweep']) takeovers.inc({ by }, 0);
  for (const outcome of ['ok', 'failed']) heartbeats.inc({ outcome }, 0);
  return {
    takeover: (by) => takeovers.inc({ by }),
    heartbeat: (outcome) => heartbeats.inc({ outcome }),
    inFlight: (count) => inFlight.set(count),
  };
}
