import { createDatabase as createPool, type DatabaseHandle as Handle } from '@workemon/db';
import type { Logger } from '@workemon/logger';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { Pool } from 'pg';
import * as schema from './schema.js';

export type Database = NodePgDatabase<typeof schema> & { $client: Pool };
export type DatabaseHandle = Handle<typeof schema>;

export interface CreateDatabaseOptions {
  url: string;
  max: number;
  logger: Logger;
  connectionTimeoutMs?: number;
}

/** The secretary's tables on the shared pool factory. */
export function createDatabase(options: CreateDatabaseOptions): DatabaseHandle {
  return createPool({ ...options, schema });
}
