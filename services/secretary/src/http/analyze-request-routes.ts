import { AnalyzeRequestInputSchema } from '@workemon/contracts';
import { type KeyedRateLimiter, parseInput } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { AnalyzeRequestUseCase } from '../domain/analyze-request-use-case.js';

/**
 * GET (query) and POST (JSON body) /analyze-request: same input, same answer. One person
 * (channel + username) gets a bounded number of analyses per minute, whichever key sends them.
 */
export function analyzeRequestRoutes(useCase: AnalyzeRequestUseCase, perUser?: KeyedRateLimiter): Router {
  const router = Router();
  const handler: RequestHandler = async (req, res) => {
    const input = parseInput(AnalyzeRequestInputSchema, req);
    await perUser?.consume(`${input.channel}\u0000${input.username}`);
    res.json(await useCase.execute(input, res.locals.requestId as string | undefined));
  };
  router.get('/analyze-request', handler);
  router.post('/analyze-request', handler);
  return router;
}
