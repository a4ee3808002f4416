import {
  type ConversationKey,
  ConversationSummarySchema,
  ConversationViewSchema,
  InboxChangesSchema,
  InboxPageSchema,
  type InboxQuery,
  type OperatorReplyInput,
  type OperatorReplyOutcome,
  OperatorReplySchema,
  UserSchema,
  z,
} from '@workemon/contracts';
import { OperatorUpstream, type UpstreamOptions } from './upstream-client.js';

export type OperatorAction = 'take-over' | 'release' | 'resolve' | 'assign';

const conversationPath = (key: ConversationKey) =>
  `/operator/conversations/${key.channel}/${encodeURIComponent(key.username)}`;

const definedParams = (params: Record<string, string | number | undefined>) =>
  Object.fromEntries(
    Object.entries(params)
      .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );

/** The secretary's operator API and user directory, called with the service token. */
export class SecretaryClient {
  readonly upstream: OperatorUpstream;

  constructor(options: UpstreamOptions) {
    this.upstream = new OperatorUpstream('secretary', options);
  }

  inbox(query: InboxQuery) {
    return this.upstream.call('GET', '/operator/conversations', InboxPageSchema, {
      query: definedParams(query),
    });
  }

  escalations(limit: number) {
    return this.upstream.call(
      'GET',
      '/operator/escalations',
      z.object({ items: z.array(ConversationSummarySchema) }),
      { query: { limit: String(limit) } },
    );
  }

  changes() {
    return this.upstream.call('GET', '/operator/changes', InboxChangesSchema);
  }

  conversation(key: ConversationKey) {
    return this.upstream.call('GET', conversationPath(key), ConversationViewSchema);
  }

  act(key: ConversationKey, action: OperatorAction, operator: string) {
    return this.upstream.call('POST', `${conversationPath(key)}/${action}`, ConversationSummarySchema, {
      body: { operator },
    });
  }

  recordReply(key: ConversationKey, reply: OperatorReplyInput) {
    return this.upstream.call('POST', `${conversationPath(key)}/replies`, OperatorReplySchema, {
      body: reply,
    });
  }

  async replyOutcome(
    key: ConversationKey,
    idempotencyKey: string,
    outcome: OperatorReplyOutcome,
  ): Promise<void> {
    await this.upstream.call(
      'POST',
      `${conversationPath(key)}/replies/${encodeURIComponent(idempotencyKey)}/outcome`,
      z.unknown(),
      { body: outcome },
    );
  }

  users(limit: number, cursor: string | undefined) {
    return this.upstream.call(
      'GET',
      '/users',
      z.object({ items: z.array(UserSchema), next_cursor: z.string().nullable() }),
      { query: definedParams({ limit, cursor }) },
    );
  }

  upsertUsers(users: z.infer<typeof UserSchema>[]) {
    return this.upstream.call('POST', '/users', z.object({ upserted: z.number() }), { body: users });
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}
