import { metricsOn, type Registry } from '@workemon/http-kit';
import type { OperatorRepository } from './data/operator-repository.js';

/**
 * Age of the oldest escalation (or failure) no operator has answered: read from the database
 * at scrape time, so every replica reports the same truth and nothing drifts between scrapes.
 */
export function registerOperatorMetrics(
  registry: Registry,
  operators: Pick<OperatorRepository, 'changes'>,
): void {
  metricsOn(registry).gauge(
    'operator_escalation_oldest_age_seconds',
    'Age of the oldest escalated or failed conversation no operator has answered yet (0 when none)',
    {
      async collect() {
        try {
          const { oldest_escalation_at: oldest } = await operators.changes();
          this.set(oldest ? Math.max(0, (Date.now() - Date.parse(oldest)) / 1000) : 0);
        } catch {
          // Database down: /health says so; the gauge keeps its last value rather than failing the scrape.
        }
      },
    },
  );
}
