import { promClient, type Registry } from '@workemon/http-kit';
import { FOLLOW_UP_KINDS, type FollowUpMetricsPort } from './domain/ports.js';

/**
 * follow_ups_total{kind,outcome} and follow_ups_pending{kind} (read from the table at scrape time,
 * so every replica reports the shared queue).
 */
export function createFollowUpMetrics(
  registry: Registry,
  pendingCounts: () => Promise<Record<string, number>>,
): FollowUpMetricsPort {
  const counter = new promClient.Counter({
    name: 'follow_ups_total',
    help: 'Follow-up work after an exchange (Jira issues, escalations, department mail) by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  new promClient.Gauge({
    name: 'follow_ups_pending',
    help: 'Follow-ups stored and not yet done, by kind',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const counts = await pendingCounts();
        for (const kind of FOLLOW_UP_KINDS) this.set({ kind }, 0);
        for (const [kind, count] of Object.entries(counts)) this.set({ kind }, count);
      } catch {
        // database down: the series is absent for this scrape, /health says why
      }
    },
  });
  const takeovers = new promClient.Counter({
    name: 'follow_up_takeovers_total',
    help: 'Follow-ups leased by an instance that stopped heartbeating, taken over by another, by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
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
