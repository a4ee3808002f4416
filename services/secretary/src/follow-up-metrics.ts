import { promClient, type Registry } from '@workemon/http-kit';
import type { FollowUpMetricsPort } from './domain/ports.js';

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
    help: 'Follow-up work after an exchange (Jira issues, escalations) by kind and outcome',
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
        this.set({ kind: 'jira-task' }, 0);
        this.set({ kind: 'escalation' }, 0);
        this.set({ kind: 'department-mail' }, 0);
        for (const [kind, count] of Object.entries(counts)) this.set({ kind }, count);
      } catch {
        // database down: the series is absent for this scrape, /health says why
      }
    },
  });
  for (const outcome of ['created', 'found_existing', 'retry', 'failed'])
    counter.inc({ kind: 'jira-task', outcome }, 0);
  for (const kind of ['escalation', 'department-mail'])
    for (const outcome of ['sent', 'retry', 'failed']) counter.inc({ kind, outcome }, 0);
  return { outcome: (kind, outcome) => counter.inc({ kind, outcome }) };
}
