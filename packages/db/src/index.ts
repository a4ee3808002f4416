export {
  DATABASE_UNAVAILABLE,
  DatabaseError,
  describeDatabaseError,
  guardDatabase,
  isConnectionError,
} from './database-errors.js';
export { migrationsPending, migrationsTableFor, runMigrations, type MigrationOptions } from './migrate.js';
export { createDatabase, type CreateDatabaseOptions, type DatabaseHandle } from './pool.js';
export { BatchedInsert, type BatchedInsertOptions } from './batched-insert.js';
export { namedQuery } from './named-query.js';
