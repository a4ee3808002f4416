import { metricsOn, type promClient, type ServiceMetrics } from '@workemon/http-kit';

export interface ConsoleMetrics {
  signIns: promClient.Counter<'outcome'>;
  replies: promClient.Counter<'channel' | 'outcome'>;
  feedback: promClient.Counter<'verdict'>;
  liveClients: promClient.Gauge;
}

export function createConsoleMetrics(metrics: ServiceMetrics): ConsoleMetrics {
  const m = metricsOn(metrics.registry);
  return {
    signIns: m.counter(
      'console_sign_ins_total',
      'Sign-in attempts by outcome (success, wrong_password, locked)',
      ['outcome'],
    ),
    replies: m.counter(
      'console_operator_replies_total',
      "Operators' replies sent by hand, by channel and outcome (sent, duplicate, failed)",
      ['channel', 'outcome'],
    ),
    feedback: m.counter('console_feedback_total', "Operators' verdicts on AI answers (helpful, wrong)", [
      'verdict',
    ]),
    liveClients: m.gauge(
      'console_live_clients',
      'Browsers listening for live inbox updates (server-sent events)',
    ),
  };
}
