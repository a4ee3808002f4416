import { ContextResponseSchema, GetContextInputSchema } from '@workemon/contracts';
import { parseInput, type RouteDoc } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import { type GetContextDeps, getContextUseCase } from '../domain/get-context-use-case.js';

export function getContextRoutes(deps: GetContextDeps): Router {
  const router = Router();
  const handler: RequestHandler = async (req, res) => {
    const input = parseInput(GetContextInputSchema, req);
    res.json(await getContextUseCase(deps, input));
  };
  router.get('/get-context', handler);
  router.post('/get-context', handler);
  return router;
}

export const getContextDocs: RouteDoc[] = (['get', 'post'] as const).map((method) => ({
  method,
  path: '/get-context',
  summary: 'Определение контекста обращения',
  description: 'Is the request, with the user attributes, enough to know its subject area?',
  input: GetContextInputSchema,
  output: ContextResponseSchema,
  secured: true,
  statuses: [400, 413, 500, 502, 503, 504],
}));
