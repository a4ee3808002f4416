import { createDatabase as createPool, type DatabaseHandle as Handle } from '@workemon/db';
import type { Logger } from '@workemon/logger';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import * as schema from './schema.js';

export type Database = NodePgDatabase<typeof schema>;
export type DatabaseHandle = Handle<typeof schema>;

/** The communicator's tables on the shared pool factory. */
export function createDatabase(url: string, logger: Logger, max = 20): DatabaseHandle {
  return createPool({ url, max, logger, schema });
}
