import type {
  ConversationKey,
  ConversationSummary,
  ConversationView,
  InboxChanges,
  InboxPage,
  InboxQuery,
  OperatorReply,
  OperatorReplyInput,
  OperatorReplyOutcome,
} from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import type { OperatorAction, OperatorStorePort } from './ports.js';

/** Telegram people are `tg:<user id>`; in a private chat the chat id is the user id. */
const telegramChat = (username: string) => /^tg:(-?\d{1,20})$/.exec(username)?.[1] ?? null;

/**
 * The operators' side of conversations (the console calls these): the inbox, a thread, and the
 * operator's hand in it. Two operators never both hold a conversation: taking over, releasing,
 * resolving and replying are refused (409, naming the holder) when someone else holds it.
 */
export class OperatorUseCases {
  constructor(private readonly repository: OperatorStorePort) {}

  inbox(query: InboxQuery): Promise<InboxPage> {
    return this.repository.inbox(query);
  }

  escalations(limit: number): Promise<ConversationSummary[]> {
    return this.repository.escalations(limit);
  }

  changes(): Promise<InboxChanges> {
    return this.repository.changes();
  }

  async conversation(key: ConversationKey): Promise<ConversationView> {
    const view = await this.repository.conversation(key);
    if (!view) throw notFound(key);
    return view;
  }

  async act(key: ConversationKey, action: OperatorAction, operator: string): Promise<ConversationSummary> {
    const { applied, summary } = await this.repository.act(key, action, operator);
    if (!summary) throw notFound(key);
    if (!applied) throw heldByOther(summary);
    return summary;
  }

  /** Records the reply (sending) and says where it goes; the caller sends it and reports the outcome. */
  async reply(key: ConversationKey, input: OperatorReplyInput): Promise<OperatorReply> {
    const summary = await this.repository.summary(key);
    if (!summary) throw notFound(key);
    if (key.channel === 'direct')
      throw new AppError(
        'UNPROCESSABLE',
        'conversations on the direct API cannot be answered: the caller received its answer in the response',
      );
    if (summary.taken_over_by && summary.taken_over_by !== input.operator) throw heldByOther(summary);
    const to =
      key.channel === 'email'
        ? key.username
        : (telegramChat(key.username) ?? (await this.repository.telegramChatId(key.username)));
    const recorded = await this.repository.recordReply(key, {
      operator: input.operator,
      text: input.text,
      idempotencyKey: input.idempotency_key,
    });
    if (recorded.channel !== key.channel || recorded.username !== key.username)
      throw new AppError(
        'CONFLICT',
        `idempotency_key '${input.idempotency_key}' belongs to another conversation`,
      );
    return {
      id: recorded.id,
      idempotency_key: input.idempotency_key,
      operator: recorded.operator,
      status: recorded.status as OperatorReply['status'],
      created: recorded.created,
      delivery: {
        channel: key.channel,
        to,
        in_reply_to: key.channel === 'email' ? await this.repository.lastMessageId(key) : null,
      },
    };
  }

  async replyOutcome(
    key: ConversationKey,
    idempotencyKey: string,
    outcome: OperatorReplyOutcome,
  ): Promise<void> {
    if (!(await this.repository.replyOutcome(key, idempotencyKey, outcome)))
      throw AppError.notFound(`No reply with idempotency_key '${idempotencyKey}' in this conversation`);
  }
}

function notFound(key: ConversationKey): AppError {
  return AppError.notFound(`No conversation with ${key.channel} user '${key.username}'`);
}

function heldByOther(summary: ConversationSummary): AppError {
  return new AppError('CONFLICT', `The conversation is taken over by '${summary.taken_over_by ?? '?'}'`, {
    details: { taken_over_by: summary.taken_over_by },
  });
}
