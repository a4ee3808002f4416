import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

/** One page of a keyset-paged list: its items and the cursor of the next page (null on the last). */
export function cursorPageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}

/** `limit` of every paged list: 1–200, 50 when absent. */
export const pageLimitSchema = z.coerce
  .number({ error: "Parameter 'limit' must be a number" })
  .int({ error: "Parameter 'limit' must be an integer" })
  .min(1, { error: "Parameter 'limit' must be between 1 and 200" })
  .max(200, { error: "Parameter 'limit' must be between 1 and 200" })
  .default(50);
