import type { Action, Channel } from '@workemon/contracts';
import { metricsOn, type Registry } from '@workemon/http-kit';
import type { AnalysisMetricsPort } from './domain/ports.js';

/** analysis_total{channel,action,is_enough}: one increment per freshly analysed request (replays excluded). */
export function createAnalysisMetrics(registry: Registry): AnalysisMetricsPort {
  const counter = metricsOn(registry).counter(
    'analysis_total',
    'Requests analysed by the secretary by channel, chosen action and context sufficiency',
    ['channel', 'action', 'is_enough'],
  );
  return {
    analysed: (channel: Channel, action: Action, isEnough: boolean) =>
      counter.inc({ channel, action, is_enough: String(isEnough) }),
  };
}
