import { AnalyzeRequestInputSchema } from '@workemon/contracts';
import { admissionLimit, parseInput } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { AnalyzeRequestUseCase } from '../domain/analyze-request-use-case.js';

/** GET (query) and POST (JSON body) /analyze-request: same input, same answer. */
export function analyzeRequestRoutes(
  useCase: AnalyzeRequestUseCase,
  options: { maxInFlight: number; onShed?: () => void },
): Router {
  const router = Router();
  // Before parsing, the database and the LLM: overload is refused while it costs nothing.
  const admit = admissionLimit({
    maxInFlight: options.maxInFlight,
    retryAfterSeconds: 1,
    ...(options.onShed ? { onShed: options.onShed } : {}),
  });
  const handler: RequestHandler = async (req, res) => {
    const input = parseInput(AnalyzeRequestInputSchema, req);
    res.json(await useCase.execute(input, res.locals.requestId as string | undefined));
  };
  router.get('/analyze-request', admit, handler);
  router.post('/analyze-request', admit, handler);
  return router;
}
