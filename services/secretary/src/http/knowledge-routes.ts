import {
  KnowledgeDocumentInputSchema,
  KnowledgeDocumentsQuerySchema,
  KnowledgeIdSchema,
  KnowledgeSearchQuerySchema,
} from '@workemon/contracts';
import { parseInput, parseValue, stripNul } from '@workemon/http-kit';
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
    // parseValue, not parseInput: `tags` is an array, which parseInput refuses (it guards query strings).
    const input = parseValue(KnowledgeDocumentInputSchema, withoutNul(req.body ?? {}));
    const { outcome, document } = await useCases.put(id, input);
    res.status(outcome === 'created' ? 201 : 200).json({ ...document, outcome });
  });
  router.delete('/knowledge/documents/:id', async (req, res) => {
    await useCases.delete(idOf(req.params.id));
    res.status(204).end();
  });
  return router;
}

/** NUL bytes never reach Postgres. */
function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return stripNul(value);
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)]));
  return value;
}
