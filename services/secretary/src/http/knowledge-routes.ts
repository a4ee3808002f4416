import {
  KnowledgeDocumentInputSchema,
  KnowledgeDocumentsQuerySchema,
  KnowledgeIdSchema,
  KnowledgeSearchQuerySchema,
} from '@workemon/contracts';
import { parseInput, parseValue } from '@workemon/http-kit';
import { Router } from 'express';
import type { KnowledgeUseCases } from '../domain/knowledge-use-cases.js';

/** /knowledge/documents (CRUD by slug) and /knowledge/search. */
export function knowledgeRoutes(useCases: KnowledgeUseCases): Router {
  const router = Router();
  const idOf = (raw: string | undefined) => parseValue(KnowledgeIdSchema, raw ?? '');
  router.get('/knowledge/search', async (req, res) => {
    const query = parseInput(KnowledgeSearchQuerySchema, req);
    res.json(await useCases.search(query.q, query.limit));
  });
  router.get('/knowledge/documents', async (req, res) => {
    const query = parseInput(KnowledgeDocumentsQuerySchema, req);
    res.json(await useCases.list(query.limit, query.cursor));
  });
  router.get('/knowledge/documents/:id', async (req, res) => {
    res.json(await useCases.get(idOf(req.params.id)));
  });
  router.put('/knowledge/documents/:id', async (req, res) => {
    const id = idOf(req.params.id);
    const input = parseInput(KnowledgeDocumentInputSchema, req);
    const { outcome, document } = await useCases.put(id, input);
    res.status(outcome === 'created' ? 201 : 200).json({ ...document, outcome });
  });
  router.delete('/knowledge/documents/:id', async (req, res) => {
    await useCases.delete(idOf(req.params.id));
    res.status(204).end();
  });
  return router;
}
