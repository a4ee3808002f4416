import { promClient, type ServiceMetrics } from '@workemon/http-kit';

export interface ConsoleMetrics {
  signIns: promClient.Counter<'outcome'>;
  replies: promClient.Counter<'channel' | 'outcome'>;
  feedback: promClient.Counter<'verdict'>;
  liveClients: promClient.Gauge;
}

export function createConsoleMetrics(metrics: ServiceMetrics): ConsoleMetrics {
  const registers = [metrics.registry];
  return {
    signIns: new promClient.Counter({
      name: 'console_sign_ins_total',
      help: 'Sign-in attempts by outcome (success, wrong_password, locked)',
      labelNames: ['outcome'],
      registers,
    }),
    replies: new promClient.Counter({
      name: 'console_operator_replies_total',
      help: "Operators' replies sent by hand, by channel and outcome (sent, duplicate, failed)",
      labelNames: ['channel', 'outcome'],
      registers,
    }),
    feedback: new promClient.Counter({
      name: 'console_feedback_total',
      help: "Operators' verdicts on AI answers (helpful, wrong)",
      labelNames: ['verdict'],
      registers,
    }),
    liveClients: new promClient.Gauge({
      name: 'console_live_clients',
      help: 'Browsers listening for live inbox updates (server-sent events)',
      registers,
    }),
  };
}
