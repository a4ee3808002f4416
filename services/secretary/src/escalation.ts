import type { Logger } from '@workemon/logger';
import { CommunicatorClient } from './clients/communicator-client.js';
import type { UpstreamClientOptions } from './clients/guesser-client.js';
import type { Config } from './config.js';
import { EscalationNotifier } from './domain/notify-escalation.js';

/** Escalations are announced only when a support chat is configured; otherwise nothing is created. */
export function createEscalation(
  config: Pick<Config, 'ESCALATION_TELEGRAM_CHAT_ID' | 'COMMUNICATOR_URL'>,
  upstream: Omit<UpstreamClientOptions, 'baseURL'>,
  logger: Logger,
): { escalation?: EscalationNotifier; close: () => Promise<void> } {
  const chatId = config.ESCALATION_TELEGRAM_CHAT_ID;
  if (!chatId) return { close: async () => {} };
  const communicator = new CommunicatorClient({ baseURL: config.COMMUNICATOR_URL, ...upstream });
  const escalation = new EscalationNotifier({ notifier: communicator, chatId, logger });
  return {
    escalation,
    close: async () => {
      await escalation.drain();
      communicator.close();
    },
  };
}
