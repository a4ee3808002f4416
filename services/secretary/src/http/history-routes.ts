import { HistoryQuerySchema } from '@workemon/contracts';
import { parseInput } from '@workemon/http-kit';
import { Router } from 'express';
import type { ListHistoryUseCase } from '../domain/list-history-use-case.js';

export function historyRoutes(useCase: ListHistoryUseCase): Router {
  const router = Router();
  router.get('/history', async (req, res) => {
    res.json(await useCase.execute(parseInput(HistoryQuerySchema, req)));
  });
  return router;
}
