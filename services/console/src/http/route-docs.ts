import {
  ConversationKeySchema,
  ConversationSummarySchema,
  ConversationViewSchema,
  InboundPageSchema,
  InboundRetryResultSchema,
  InboxPageSchema,
  InboxQuerySchema,
  z,
} from '@workemon/contracts';
import type { RouteDoc } from '@workemon/http-kit';
import {
  DirectoryEntrySchema,
  FeedbackBodySchema,
  IngestQuerySchema,
  ReplyBodySchema,
  SignInSchema,
} from './api-routes.js';

const SessionSchema = z.object({
  name: z.string(),
  role: z.enum(['operator', 'admin']),
  csrf_token: z.string(),
});
const conversation = '/api/conversations/{channel}/{username}';

/** The browser API. Every route but sign-in needs the session cookie; writes need X-CSRF-Token. */
export function consoleRouteDocs(): RouteDoc[] {
  return [
    {
      method: 'post',
      path: '/api/session',
      summary: 'Sign in (sets the HttpOnly session cookie)',
      body: SignInSchema,
      output: SessionSchema,
      statuses: [400, 401, 429],
    },
    {
      method: 'get',
      path: '/api/session',
      summary: 'Who is signed in, and the CSRF token for writes',
      output: SessionSchema,
      statuses: [401],
    },
    {
      method: 'delete',
      path: '/api/session',
      summary: 'Sign out',
      output: z.object({}),
      statuses: [401, 403],
    },
    {
      method: 'get',
      path: '/api/conversations',
      summary: 'Inbox (newest first; state, channel, q, cursor)',
      input: InboxQuerySchema,
      output: InboxPageSchema,
      statuses: [400, 401, 502, 503],
    },
    {
      method: 'get',
      path: '/api/escalations',
      summary: 'Unanswered escalations, oldest first',
      output: z.object({ items: z.array(ConversationSummarySchema) }),
      statuses: [401, 502, 503],
    },
    {
      method: 'get',
      path: conversation,
      summary: 'One conversation with its whole thread',
      params: ConversationKeySchema,
      output: ConversationViewSchema,
      statuses: [400, 401, 404],
    },
    ...(['take-over', 'release', 'resolve', 'assign'] as const).map((action): RouteDoc => ({
      method: 'post',
      path: `${conversation}/${action}`,
      summary: `Operator action: ${action}`,
      params: ConversationKeySchema,
      output: ConversationSummarySchema,
      statuses: [401, 403, 404, 409],
    })),
    {
      method: 'post',
      path: `${conversation}/typing`,
      summary:
        'The operator is writing a reply here: other open pages show it (event `typing`); throttled, a hint only',
      params: ConversationKeySchema,
      body: z.object({}),
      output: z.object({ passed: z.boolean() }),
      statuses: [400, 401, 403],
    },
    {
      method: 'post',
      path: `${conversation}/replies`,
      summary: "Answer by hand on the person's channel (idempotent per composed reply)",
      params: ConversationKeySchema,
      body: ReplyBodySchema,
      output: z.object({ status: z.enum(['sent', 'duplicate', 'sending']) }),
      statuses: [400, 401, 403, 404, 409, 422, 502, 503],
    },
    {
      method: 'get',
      path: '/api/ingest',
      summary: "The communicator's quarantined or skipped messages",
      input: IngestQuerySchema,
      output: InboundPageSchema,
      statuses: [400, 401, 502, 503],
    },
    {
      method: 'post',
      path: '/api/ingest/{id}/retry',
      summary: 'Send a quarantined or skipped message through again',
      params: z.object({ id: z.string() }),
      output: InboundRetryResultSchema,
      statuses: [400, 401, 403, 404, 409],
    },
    {
      method: 'post',
      path: '/api/feedback',
      summary: 'Judge an AI answer: helpful or wrong (with a note)',
      body: FeedbackBodySchema,
      output: z.object({ id: z.string() }),
      statuses: [400, 401, 403, 404, 422],
    },
    {
      method: 'get',
      path: '/api/feedback/export',
      summary: 'All feedback as JSON lines (admin)',
      output: z.string(),
      statuses: [401, 403],
    },
    {
      method: 'get',
      path: '/api/directory',
      summary: 'The user directory (admin)',
      output: z.object({ items: z.array(DirectoryEntrySchema) }),
      statuses: [401, 403],
    },
    {
      method: 'put',
      path: '/api/directory',
      summary: 'Add or change one person in the directory (admin)',
      body: DirectoryEntrySchema,
      output: z.object({ upserted: z.number() }),
      statuses: [400, 401, 403],
    },
    {
      method: 'get',
      path: '/api/events',
      summary:
        'Server-sent events: `inbox` when a conversation changed, `status` (upstream ok/unavailable), `typing` (an operator writes a reply)',
      output: z.string(),
      statuses: [401],
    },
  ];
}
