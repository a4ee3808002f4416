import {
  InboundIdParamsSchema,
  InboundListQuerySchema,
  SendMessageInputSchema,
  type SendMessageResult,
} from '@workemon/contracts';
import { parseInput, parseValue } from '@workemon/http-kit';
import { Router } from 'express';
import type { InboundOperatorUseCases } from '../domain/inbound-operator-use-cases.js';
import type { SendMessageUseCase } from '../domain/send-message-use-case.js';

export function communicatorRoutes(deps: {
  sendMessage: SendMessageUseCase;
  inbound: InboundOperatorUseCases;
}): Router {
  const router = Router();
  router.post('/send', async (req, res) => {
    const input = parseInput(SendMessageInputSchema, req);
    const result: SendMessageResult = await deps.sendMessage.execute(input);
    res.json(result);
  });
  router.get('/inbound', async (req, res) => {
    res.json(await deps.inbound.list(parseInput(InboundListQuerySchema, req)));
  });
  router.post('/inbound/:id/retry', async (req, res) => {
    const { id } = parseValue(InboundIdParamsSchema, req.params);
    res.json(await deps.inbound.retry(id));
  });
  return router;
}
