import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ConversationKeySchema,
  EscalationsQuerySchema,
  InboxQuerySchema,
  OperatorActionInputSchema,
  OperatorReplyInputSchema,
  OperatorReplyOutcomeSchema,
  z,
} from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { parseInput, parseValue } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { OperatorAction } from '../domain/ports.js';
import type { OperatorUseCases } from '../domain/operator-use-cases.js';

const ReplyKeyParamsSchema = z.object({
  key: z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/, { error: "Parameter 'key' is not an idempotency key" }),
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Operator endpoints are for the console (service token), not for client API keys: the app's
 * bearer check accepts both, so this narrows it. Without a service token (auth disabled) it is open.
 */
function serviceTokenOnly(serviceToken: string | undefined, clientKeys: readonly string[]): RequestHandler {
  const expected = serviceToken ? digest(serviceToken) : undefined;
  return (req, _res, next) => {
    if (!expected) {
      next(
        clientKeys.length > 0
          ? new AppError('FORBIDDEN', 'Operator endpoints need SERVICE_TOKEN set')
          : undefined,
      );
      return;
    }
    const presented = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() ?? '';
    next(
      timingSafeEqual(digest(presented), expected)
        ? undefined
        : new AppError('FORBIDDEN', 'Operator endpoints accept the service token only'),
    );
  };
}

const keyOf = (params: Record<string, unknown>) => parseValue(ConversationKeySchema, params);

export function operatorRoutes(
  useCases: OperatorUseCases,
  auth: { serviceToken: string | undefined; clientKeys: readonly string[] },
): Router {
  const router = Router();
  router.use('/operator', serviceTokenOnly(auth.serviceToken, auth.clientKeys));
  router.get('/operator/conversations', async (req, res) => {
    res.json(await useCases.inbox(parseInput(InboxQuerySchema, req)));
  });
  router.get('/operator/escalations', async (req, res) => {
    const { limit } = parseInput(EscalationsQuerySchema, req);
    res.json({ items: await useCases.escalations(limit) });
  });
  router.get('/operator/changes', async (_req, res) => {
    res.json(await useCases.changes());
  });
  router.get('/operator/conversations/:channel/:username', async (req, res) => {
    res.json(await useCases.conversation(keyOf(req.params)));
  });
  for (const action of ['take-over', 'release', 'resolve', 'assign'] as OperatorAction[]) {
    router.post(`/operator/conversations/:channel/:username/${action}`, async (req, res) => {
      const { operator } = parseInput(OperatorActionInputSchema, req);
      res.json(await useCases.act(keyOf(req.params), action, operator));
    });
  }
  router.post('/operator/conversations/:channel/:username/replies', async (req, res) => {
    const reply = await useCases.reply(keyOf(req.params), parseInput(OperatorReplyInputSchema, req));
    res.status(reply.created ? 201 : 200).json(reply);
  });
  router.post('/operator/conversations/:channel/:username/replies/:key/outcome', async (req, res) => {
    const { key } = parseValue(ReplyKeyParamsSchema, req.params);
    await useCases.replyOutcome(keyOf(req.params), key, parseInput(OperatorReplyOutcomeSchema, req));
    res.status(204).end();
  });
  return router;
}
