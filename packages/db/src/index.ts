export {
  DATABASE_UNAVAILABLE,
  DatabaseError,
  describeDatabaseError,
  guardDatabase,
  isConnectionError,
} from './database-errors.js';
export { migrationsPending, migrationsTableFor, runMigrations, type MigrationOptions } from './migrate.js';
export { createDatabase, type CreateDatabaseOptions, type DatabaseHandle } from './pool.js';
export { namedQuery } from './named-query.js';
