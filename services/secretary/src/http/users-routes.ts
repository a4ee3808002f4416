import { UserSchema, UsersUpsertSchema, z } from '@workemon/contracts';
import { parseInput, parseValue, stripNul } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { UserDirectoryUseCases } from '../domain/user-directory-use-cases.js';

export const UsersQuerySchema = z.object({
  limit: z.coerce
    .number({ error: "Parameter 'limit' must be a number" })
    .int({ error: "Parameter 'limit' must be an integer" })
    .min(1, { error: "Parameter 'limit' must be between 1 and 500" })
    .max(500, { error: "Parameter 'limit' must be between 1 and 500" })
    .default(100),
  cursor: z.string().trim().min(1).optional().describe('Opaque cursor from next_cursor'),
});

// Plain zod here (no .openapi()): the zod-to-openapi type augmentation is not visible when building against dist types.
export const UsersPageSchema = z.object({ items: z.array(UserSchema), next_cursor: z.string().nullable() });

export const UsersUpsertResultSchema = z.object({ upserted: z.number().int() });

/** NUL bytes never reach Postgres, whatever the shape of the body (one user or many). */
function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return stripNul(value);
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)]));
  }
  return value;
}

export function usersRoutes(useCases: UserDirectoryUseCases): Router {
  const router = Router();
  router.get('/users', async (req, res) => {
    const query = parseInput(UsersQuerySchema, req);
    res.json(await useCases.list(query.limit, query.cursor));
  });
  router.get('/users/:username', async (req, res) => {
    res.json(await useCases.get(req.params.username ?? ''));
  });
  const upsert: RequestHandler = async (req, res) => {
    res.json(await useCases.upsert(parseValue(UsersUpsertSchema, withoutNul(req.body ?? {}))));
  };
  router.put('/users', upsert);
  router.post('/users', upsert);
  return router;
}
