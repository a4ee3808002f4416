import type { Channel } from '@workemon/contracts';
import { truncateForLog } from '@workemon/logger';
import type { FollowUpHandler, NotifierPort, SendPayload } from './ports.js';

export interface EscalationNotice {
  channel: Channel;
  username: string;
  displayName: string;
  request: string;
  /** The exchange's own id (a UUID made per exchange, stored with the payload): never a client's value. */
  exchangeKey: string;
  conversationId: string | null;
}

/** `написать в telegram сотруднику`: what the support team's chat is told. Pure, so it is stored as is. */
export function escalationPayload(notice: EscalationNotice, chatId: string): SendPayload {
  const header = `Нужен сотрудник: ${notice.displayName} (${notice.username}), канал ${notice.channel}.`;
  const conversation = notice.conversationId ? `\nДиалог: ${notice.conversationId}` : '';
  return {
    channel: 'tg',
    to: chatId,
    text: `${header}${conversation}\n\n${truncateForLog(notice.request, 3000)}`,
    idempotencyKey: `escalation:${notice.exchangeKey}`,
  };
}

/** `написать в рассылку департамента`: the request and its analysis, mailed to the department's list. */
export function departmentMailPayload(
  notice: EscalationNotice & { department: string; analysis: string },
  to: string,
): SendPayload {
  const firstLine = notice.request.split(/\r?\n/).find((l) => l.trim() !== '') ?? notice.request;
  const subject = `Обращение ${notice.displayName}: ${firstLine.replace(/\s+/g, ' ').trim()}`;
  return {
    channel: 'email',
    to,
    subject: subject.length > 200 ? `${subject.slice(0, 199)}…` : subject,
    text: [
      `${notice.displayName} (${notice.username}), департамент «${notice.department}», канал ${notice.channel}.`,
      '',
      'Запрос:',
      truncateForLog(notice.request, 10_000),
      '',
      'Анализ:',
      notice.analysis,
    ].join('\n'),
    idempotencyKey: `department-mail:${notice.exchangeKey}`,
  };
}

/**
 * Delivers a stored SendPayload through the communicator, which dedupes by idempotency_key:
 * a retry after a lost answer never sends twice.
 */
export class SendThroughCommunicatorHandler implements FollowUpHandler {
  constructor(
    private readonly notifier: NotifierPort,
    readonly noun: string,
  ) {}

  async run(payload: Record<string, unknown>) {
    const p = payload as unknown as SendPayload;
    const sent = await this.notifier.send({
      channel: p.channel,
      to: p.to,
      ...(p.subject ? { subject: p.subject } : {}),
      text: p.text,
      idempotency_key: p.idempotencyKey,
    });
    return { result: { ...sent }, outcome: 'sent' as const, summary: `sent by ${p.channel} to ${p.to}` };
  }
}
