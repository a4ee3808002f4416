import { metricsOn, type Registry, scrapeReading } from '@workemon/http-kit';
import { FOLLOW_UP_KINDS, type FollowUpMetricsPort } from './domain/ports.js';

/**
 * follow_ups_total{kind,outcome} and follow_ups_pending{kind} (read from the table at scrape time,
 * so every replica reports the shared queue).
 */
export function createFollowUpMetrics(
  registry: Registry,
  pendingCounts: () => Promise<Record<string, number>>,
): FollowUpMetricsPort {
  const m = metricsOn(registry);
  const pending = scrapeReading(pendingCounts);
  const counter = m.counter(
    'follow_ups_total',
    'Follow-up work after an exchange (Jira issues, escalations, department mail) by kind and outcome',
    ['kind', 'outcome'],
  );
  m.gauge('follow_ups_pending', 'Follow-ups stored and not yet done, by kind', {
    labelNames: ['kind'],
    async collect() {
      this.reset();
      // Database down: the series is absent for this scrape, /health says why.
      const counts = await pending();
      if (!counts) return;
      for (const kind of FOLLOW_UP_KINDS) this.set({ kind }, 0);
      for (const [kind, count] of Object.entries(counts)) this.set({ kind }, count);
    },
  });
  const takeovers = m.counter(
    'follow_up_takeovers_total',
    'Follow-ups leased by an instance that stopped heartbeating, taken over by another, by kind',
    ['kind'],
  );
  // Zero series up front, so rate() and increase() see the first event.
  for (const kind of FOLLOW_UP_KINDS) {
    const done = kind === 'jira-task' ? ['created', 'found_existing'] : ['sent'];
    for (const outcome of [...done, 'retry', 'failed']) counter.inc({ kind, outcome }, 0);
    takeovers.inc({ kind }, 0);
  }
  return {
    outcome: (kind, outcome) => counter.inc({ kind, outcome }),
    takeover: (kind) => takeovers.inc({ kind }),
  };
}
