import {
  CHANNELS,
  ConversationKeySchema,
  InboxQuerySchema,
  MessagingChannelSchema,
  OperatorReplyInputSchema,
  UserSchema,
  z,
} from '@workemon/contracts';
import { parseInput, parseValue, stripNul } from '@workemon/http-kit';
import { type Request, type RequestHandler, type Response, Router } from 'express';
import type { CommunicatorClient } from '../clients/communicator-client.js';
import { OPERATOR_NAME } from '../config.js';
import type { OperatorAction, SecretaryClient } from '../clients/secretary-client.js';
import type { FeedbackUseCases } from '../domain/feedback-use-cases.js';
import type { LiveFeed } from '../domain/live-feed.js';
import type { ReplyByHandUseCase } from '../domain/reply-by-hand-use-case.js';
import type { SessionUseCases } from '../domain/sessions.js';
import type { TypingPresence } from '../domain/typing-presence.js';
import {
  requireAdmin,
  requireJson,
  requireSession,
  SESSION_COOKIE,
  sessionCookieOptions,
  sessionToken,
  signedIn,
} from './session-middleware.js';

export const SignInSchema = z.object({
  // Checked as operators' names are (config.ts), so a name no operator can have (a NUL, a newline)
  // is a 400 before it reaches the lock-out ledger.
  name: z
    .string({ error: "Parameter 'name' is required" })
    .trim()
    .min(1, { error: "Parameter 'name' must not be empty" })
    .max(64, { error: "Parameter 'name' must be at most 64 characters" })
    .regex(OPERATOR_NAME, { error: "Parameter 'name' must be letters, digits or . _ @ -" }),
  password: z
    .string({ error: "Parameter 'password' is required" })
    .min(1, { error: "Parameter 'password' must not be empty" })
    .max(1024, { error: "Parameter 'password' must be at most 1024 characters" }),
});

/** The reply as the secretary takes it, less the operator (the session says who). */
export const ReplyBodySchema = OperatorReplyInputSchema.pick({ text: true, idempotency_key: true });

export const IngestQuerySchema = z.object({
  status: z
    .enum(['quarantined', 'skipped'], { error: "Parameter 'status' must be one of: quarantined, skipped" })
    .default('quarantined'),
  channel: MessagingChannelSchema.optional(),
  cursor: z.string().trim().min(1).max(200).optional(),
});

export const FeedbackBodySchema = z.object({
  channel: z.enum(CHANNELS, { error: "Parameter 'channel' must be one of: email, tg, direct" }),
  // Stored as given: a NUL (which no database text can hold) is dropped, as everywhere else.
  username: z.string().trim().min(1).max(320).transform(stripNul),
  exchange_id: z
    .string({ error: "Parameter 'exchange_id' is required" })
    .regex(/^\d{1,18}$/, { error: "Parameter 'exchange_id' must be an exchange id" }),
  verdict: z.enum(['helpful', 'wrong'], { error: "Parameter 'verdict' must be one of: helpful, wrong" }),
  note: z
    .string()
    .trim()
    .max(2000, { error: "Parameter 'note' must be at most 2000 characters" })
    .transform(stripNul)
    .optional(),
});

const IdParamsSchema = z.object({
  id: z.coerce
    .number({ error: "Parameter 'id' must be a number" })
    .int({ error: "Parameter 'id' must be a positive integer" })
    .positive({ error: "Parameter 'id' must be a positive integer" })
    .max(Number.MAX_SAFE_INTEGER, { error: "Parameter 'id' must be a positive integer" }),
});

export interface ApiDeps {
  sessions: SessionUseCases;
  secretary: SecretaryClient;
  communicator: CommunicatorClient;
  replyByHand: ReplyByHandUseCase;
  feedback: FeedbackUseCases;
  live: LiveFeed;
  typing: TypingPresence;
}

const keyOf = (req: Request) => parseValue(ConversationKeySchema, req.params);

/** The browser's API: sign-in, and everything else on behalf of the signed-in operator. */
export function apiRoutes(deps: ApiDeps): Router {
  const { sessions, secretary, communicator } = deps;
  const router = Router();
  router.use('/api', requireJson);

  router.post('/api/session', async (req, res) => {
    const { name, password } = parseInput(SignInSchema, req);
    const { token, session, expiresAt } = await sessions.signIn(name, password);
    res.cookie(SESSION_COOKIE, token, sessionCookieOptions(req, expiresAt));
    res.status(201).json({ name: session.name, role: session.role, csrf_token: session.csrfToken });
  });

  // Everything below needs a session (and the CSRF header on writes).
  router.use('/api', requireSession(sessions));

  router.get('/api/session', (_req, res) => {
    const s = signedIn(res);
    res.json({ name: s.name, role: s.role, csrf_token: s.csrfToken });
  });
  router.delete('/api/session', async (req, res) => {
    const token = sessionToken(req);
    if (token) await sessions.signOut(token);
    res.clearCookie(SESSION_COOKIE, sessionCookieOptions(req));
    res.status(204).end();
  });

  router.get('/api/conversations', async (req, res) => {
    res.json(await secretary.inbox(parseInput(InboxQuerySchema, req)));
  });
  router.get('/api/escalations', async (_req, res) => {
    res.json(await secretary.escalations(100));
  });
  router.get('/api/conversations/:channel/:username', async (req, res) => {
    res.json(await secretary.conversation(keyOf(req)));
  });
  for (const action of ['take-over', 'release', 'resolve', 'assign'] as OperatorAction[]) {
    router.post(`/api/conversations/:channel/:username/${action}`, async (req, res) => {
      res.json(await secretary.act(keyOf(req), action, signedIn(res).name));
    });
  }
  router.post('/api/conversations/:channel/:username/typing', (req, res) => {
    parseInput(z.object({}), req);
    const passed = deps.typing.ping(keyOf(req), signedIn(res).name);
    res.status(202).json({ passed });
  });
  router.post('/api/conversations/:channel/:username/replies', async (req, res) => {
    const body = parseInput(ReplyBodySchema, req);
    const result = await deps.replyByHand.execute(keyOf(req), {
      operator: signedIn(res).name,
      text: body.text,
      idempotencyKey: body.idempotency_key,
    });
    res.status(result.status === 'sending' ? 202 : 200).json(result);
  });

  router.get('/api/ingest', async (req, res) => {
    const query = parseInput(IngestQuerySchema, req);
    res.json(await communicator.inbound({ ...query, limit: 50 }));
  });
  router.get('/api/ingest/counts', async (_req, res) => {
    // Counted up to 200 each: the inbox shows "200+" beyond that, which is all it needs to say.
    const [quarantined, skipped] = await Promise.all(
      (['quarantined', 'skipped'] as const).map((status) => communicator.inbound({ status, limit: 200 })),
    );
    res.json({
      quarantined: quarantined?.items.length ?? 0,
      quarantined_more: Boolean(quarantined?.next_cursor),
      skipped: skipped?.items.length ?? 0,
      skipped_more: Boolean(skipped?.next_cursor),
    });
  });
  router.post('/api/ingest/:id/retry', async (req, res) => {
    const { id } = parseValue(IdParamsSchema, req.params);
    res.json(await communicator.retry(id));
  });

  router.post('/api/feedback', async (req, res) => {
    // What the browser adds beyond the schema (a forged `response`) is ignored, not an error.
    const body = parseInput(FeedbackBodySchema, req, { allowUnknown: true });
    res.status(201).json(await deps.feedback.record(signedIn(res).name, body));
  });
  router.get('/api/feedback', async (_req, res) => {
    res.json({ items: await deps.feedback.recent(100) });
  });
  router.get('/api/feedback/export', requireAdmin, async (_req, res) => {
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('content-disposition', 'attachment; filename="workemon-feedback.jsonl"');
    for await (const line of deps.feedback.exportLines()) res.write(line);
    res.end();
  });

  router.get('/api/directory', requireAdmin, async (req, res) => {
    const query = parseInput(z.object({ cursor: z.string().trim().min(1).max(500).optional() }), req);
    res.json(await secretary.users(100, query.cursor));
  });
  router.put('/api/directory', requireAdmin, async (req, res) => {
    const user = parseValue(DirectoryEntrySchema, withoutNul(req.body));
    res.json(await secretary.upsertUsers([user]));
  });

  router.get('/api/events', liveEvents(deps.live));
  return router;
}

/** A directory entry as an admin edits it: the shared user schema plus the checks a person would make. */
export const DirectoryEntrySchema = UserSchema.extend({
  username: z
    .string({ error: "Parameter 'username' is required" })
    .trim()
    .min(1, { error: "Parameter 'username' must not be empty" })
    .max(320, { error: "Parameter 'username' must be at most 320 characters" }),
  email: z
    .union([z.literal(''), z.email({ error: "Parameter 'email' must be an e-mail address" })])
    .optional()
    .transform((v) => (v ? v : undefined)),
  telegram_chat_id: z
    .union([
      z.literal(''),
      z.string().regex(/^-?\d{1,20}$/, { error: "Parameter 'telegram_chat_id' must be a number" }),
    ])
    .optional()
    .transform((v) => (v ? v : undefined)),
});

function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return stripNul(value);
  if (value && typeof value === 'object' && !Array.isArray(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)]));
  return value;
}

/**
 * Server-sent events: `inbox` when a conversation changed, `status` when the secretary went away or
 * came back, `typing` when an operator is writing a reply somewhere.
 */
function liveEvents(live: LiveFeed): RequestHandler {
  return (req: Request, res: Response) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n\n');
    const unsubscribe = live.subscribe((event) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    // Comments keep proxies from closing an idle stream.
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  };
}
