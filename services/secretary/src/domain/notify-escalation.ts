import type { Channel } from '@workemon/contracts';
import { truncateForLog } from '@workemon/logger';
import type { EscalationPayload, FollowUpHandler, NotifierPort } from './ports.js';

export interface EscalationNotice {
  channel: Channel;
  username: string;
  displayName: string;
  request: string;
  /** message_id when the caller gave one, else the request id: the same exchange never notifies twice. */
  exchangeKey: string;
  conversationId: string | null;
}

/** `написать в telegram сотруднику`: what the support team's chat is told. Pure, so it is stored as is. */
export function escalationPayload(notice: EscalationNotice, chatId: string): EscalationPayload {
  const header = `Нужен сотрудник: ${notice.displayName} (${notice.username}), канал ${notice.channel}.`;
  const conversation = notice.conversationId ? `\nДиалог: ${notice.conversationId}` : '';
  return {
    chatId,
    text: `${header}${conversation}\n\n${truncateForLog(notice.request, 3000)}`,
    idempotencyKey: `escalation:${notice.channel}:${notice.exchangeKey}`,
  };
}

/** Posts the escalation through the communicator, which dedupes by idempotency_key: a retry is safe. */
export class NotifyEscalationHandler implements FollowUpHandler {
  readonly noun = 'escalation';

  constructor(private readonly notifier: NotifierPort) {}

  async run(payload: Record<string, unknown>) {
    const p = payload as unknown as EscalationPayload;
    const sent = await this.notifier.send({
      channel: 'tg',
      to: p.chatId,
      text: p.text,
      idempotency_key: p.idempotencyKey,
    });
    return { result: { ...sent }, outcome: 'sent' as const, summary: 'sent to the support chat' };
  }
}
