import { AnalyzeRequestInputSchema } from '@workemon/contracts';
import { parseInput } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { AnalyzeRequestUseCase } from '../domain/analyze-request-use-case.js';

/** GET (query) and POST (JSON body) /analyze-request: same input, same answer. */
export function analyzeRequestRoutes(useCase: AnalyzeRequestUseCase): Router {
  const router = Router();
  const handler: RequestHandler = async (req, res) => {
    const input = parseInput(AnalyzeRequestInputSchema, req);
    res.json(await useCase.execute(input, res.locals.requestId as string | undefined));
  };
  router.get('/analyze-request', handler);
  router.post('/analyze-request', handler);
  return router;
}
