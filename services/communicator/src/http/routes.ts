import { SendMessageInputSchema, type SendMessageResult } from '@workemon/contracts';
import { parseInput } from '@workemon/http-kit';
import { Router } from 'express';
import type { SendMessageUseCase } from '../domain/send-message-use-case.js';

export function communicatorRoutes(deps: { sendMessage: SendMessageUseCase }): Router {
  const router = Router();
  router.post('/send', async (req, res) => {
    const input = parseInput(SendMessageInputSchema, req);
    const result: SendMessageResult = await deps.sendMessage.execute(input);
    res.json(result);
  });
  return router;
}
