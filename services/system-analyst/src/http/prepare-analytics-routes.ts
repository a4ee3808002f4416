import { AnalyticsResponseSchema, PrepareAnalyticsInputSchema } from '@workemon/contracts';
import { parseInput, type RouteDoc } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import { type PrepareAnalyticsDeps, prepareAnalyticsUseCase } from '../domain/prepare-analytics-use-case.js';

/** The spec's spelling, plus the correctly spelled alias. */
const PATHS = ['/prepare-analititcs', '/prepare-analytics'] as const;

export function prepareAnalyticsRoutes(deps: PrepareAnalyticsDeps): Router {
  const router = Router();
  const handler: RequestHandler = async (req, res) => {
    const input = parseInput(PrepareAnalyticsInputSchema, req);
    res.json(await prepareAnalyticsUseCase(deps, input));
  };
  for (const path of PATHS) {
    router.get(path, handler);
    router.post(path, handler);
  }
  return router;
}

export const prepareAnalyticsDocs: RouteDoc[] = PATHS.flatMap((path) =>
  (['get', 'post'] as const).map((method) => ({
    method,
    path,
    summary: 'Определение совокупности действий или компонентов',
    description: 'Which components and operations give the person what they want; may propose an action.',
    input: PrepareAnalyticsInputSchema,
    output: AnalyticsResponseSchema,
    secured: true,
    statuses: [400, 413, 500, 502, 503, 504],
  })),
);
