import { UserSchema, UsersUpsertSchema, usernameSchema, z } from '@workemon/contracts';
import { parseInput, parseValue, requireRole } from '@workemon/http-kit';
import { type RequestHandler, Router } from 'express';
import type { UserDirectoryUseCases } from '../domain/user-directory-use-cases.js';

export const UsersQuerySchema = z.object({
  limit: z.coerce
    .number({ error: "Parameter 'limit' must be a number" })
    .int({ error: "Parameter 'limit' must be an integer" })
    .min(1, { error: "Parameter 'limit' must be between 1 and 500" })
    .max(500, { error: "Parameter 'limit' must be between 1 and 500" })
    .default(100),
  cursor: z
    .string()
    .trim()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z0-9_-]+$/, { error: "Parameter 'cursor' is not a cursor this API issued" })
    .optional()
    .describe('Opaque cursor from next_cursor'),
});

// Plain zod here (no .openapi()): the zod-to-openapi type augmentation is not visible when building against dist types.
export const UsersPageSchema = z.object({ items: z.array(UserSchema), next_cursor: z.string().nullable() });

export const UsersUpsertResultSchema = z.object({ upserted: z.number().int() });

const UsernameParamsSchema = z.object({ username: usernameSchema() });

/**
 * Directory entries feed prompts and department mail: admin keys may change them, and the mesh's
 * own service token (the operators' console writes on behalf of its signed-in operators); client
 * API keys may not.
 */
const adminOnly = requireRole(
  ['admin', 'service'],
  'Changing the user directory needs an admin key: send one of ADMIN_API_KEYS as the bearer token',
);

export function usersRoutes(useCases: UserDirectoryUseCases): Router {
  const router = Router();
  router.get('/users', async (req, res) => {
    const query = parseInput(UsersQuerySchema, req);
    res.json(await useCases.list(query.limit, query.cursor));
  });
  router.get('/users/:username', async (req, res) => {
    res.json(await useCases.get(parseValue(UsernameParamsSchema, req.params).username));
  });
  const upsert: RequestHandler = async (req, res) => {
    res.json(await useCases.upsert(parseValue(UsersUpsertSchema, req.body ?? {})));
  };
  router.put('/users', adminOnly, upsert);
  router.post('/users', adminOnly, upsert);
  return router;
}
