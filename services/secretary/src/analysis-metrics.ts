import type { Action, Channel } from '@workemon/contracts';
import { promClient, type Registry } from '@workemon/http-kit';
import type { AnalysisMetricsPort } from './domain/ports.js';

/** analysis_total{channel,action,is_enough}: one increment per freshly analysed request (replays excluded). */
export function createAnalysisMetrics(registry: Registry): AnalysisMetricsPort {
  const existing = registry.getSingleMetric('analysis_total') as
    promClient.Counter<'channel' | 'action' | 'is_enough'> | undefined;
  const counter =
    existing ??
    new promClient.Counter({
      name: 'analysis_total',
      help: 'Requests analysed by the secretary by channel, chosen action and context sufficiency',
      labelNames: ['channel', 'action', 'is_enough'],
      registers: [registry],
    });
  return {
    analysed: (channel: Channel, action: Action, isEnough: boolean) =>
      counter.inc({ channel, action, is_enough: String(isEnough) }),
  };
}
