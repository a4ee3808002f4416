import {
  ConversationKeySchema,
  ConversationSummarySchema,
  ConversationViewSchema,
  EscalationsQuerySchema,
  InboxChangesSchema,
  InboxPageSchema,
  InboxQuerySchema,
  OperatorActionInputSchema,
  OperatorReplyInputSchema,
  OperatorReplyOutcomeSchema,
  OperatorReplySchema,
  z,
} from '@workemon/contracts';
import type { RouteDoc } from '@workemon/http-kit';

const conversationPath = '/operator/conversations/{channel}/{username}';

/** The operator API (service token only; the console calls it server-side). */
export function operatorRouteDocs(secured: boolean): RouteDoc[] {
  const actions: [string, string][] = [
    [
      'take-over',
      'Stop automatic answers: the person’s next messages wait for the operator (409 if another holds it)',
    ],
    ['release', 'Give the conversation back to automatic answers'],
    ['resolve', 'Close the conversation (a new message from the person reopens it)'],
    ['assign', 'Assign the conversation (an escalation) to an operator'],
  ];
  return [
    {
      method: 'get',
      path: '/operator/conversations',
      summary: 'Inbox: conversations newest first, by state, channel and text; keyset paging',
      input: InboxQuerySchema,
      output: InboxPageSchema,
      secured,
      statuses: [400, 403, 500],
    },
    {
      method: 'get',
      path: '/operator/escalations',
      summary: 'Escalated or failed conversations no operator has answered yet, oldest first',
      input: EscalationsQuerySchema,
      output: z.object({ items: z.array(ConversationSummarySchema) }),
      secured,
      statuses: [400, 403, 500],
    },
    {
      method: 'get',
      path: '/operator/changes',
      summary:
        'The inbox version (changes whenever a conversation does) and the oldest unanswered escalation',
      output: InboxChangesSchema,
      secured,
      statuses: [403, 500],
    },
    {
      method: 'get',
      path: conversationPath,
      summary: 'One conversation: exchanges with verdicts and follow-ups, held messages, operator replies',
      params: ConversationKeySchema,
      output: ConversationViewSchema,
      secured,
      statuses: [400, 403, 404, 500],
    },
    ...actions.map(([action, summary]): RouteDoc => ({
      method: 'post',
      path: `${conversationPath}/${action}`,
      summary,
      params: ConversationKeySchema,
      body: OperatorActionInputSchema,
      output: ConversationSummarySchema,
      secured,
      statuses: [400, 403, 404, 409, 500],
    })),
    {
      method: 'post',
      path: `${conversationPath}/replies`,
      summary: 'Record an operator’s reply before sending it (idempotent by key); says where to send it',
      params: ConversationKeySchema,
      body: OperatorReplyInputSchema,
      output: OperatorReplySchema,
      secured,
      statuses: [400, 403, 404, 409, 422, 500],
    },
    {
      method: 'post',
      path: `${conversationPath}/replies/{key}/outcome`,
      summary: 'The send’s result: sent (the conversation is answered) or failed',
      params: ConversationKeySchema.extend({ key: z.string() }),
      body: OperatorReplyOutcomeSchema,
      output: z.object({}),
      secured,
      statuses: [400, 403, 404, 500],
    },
  ];
}
