import { AnalyzeRequestInputSchema } from '@workemon/contracts';
import { admissionLimit, type KeyedRateLimiter, parseInput } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { AnalyzeRequestUseCase } from '../domain/analyze-request-use-case.js';

/**
 * GET (query) and POST (JSON body) /analyze-request: same input, same answer. One person
 * (channel + username) gets a bounded number of analyses per minute, whichever key sends them.
 */
export function analyzeRequestRoutes(
  useCase: AnalyzeRequestUseCase,
  options: { maxInFlight: number; onShed?: () => void; perUser?: KeyedRateLimiter },
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
    await options.perUser?.consume(`${input.channel}\u0000${input.username}`);
    const answer = await useCase.execute(input, res.locals.requestId as string | undefined);
    // The access log line is the request's one line at info: it says what was decided.
    res.locals.logFields = {
      labels: { channel: input.channel, action: answer.action, is_enough: String(answer.is_enough) },
      ...(answer.conversation_id ? { workemon: { conversation_id: answer.conversation_id } } : {}),
    };
    res.json(answer);
  };
  router.get('/analyze-request', admit, handler);
  router.post('/analyze-request', admit, handler);
  return router;
}
