import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/data/schema.ts', './src/data/knowledge-schema.ts'],
  out: './drizzle',
  schemaFilter: ['secretary', 'knowledge'],
  // Own bookkeeping table: the communicator keeps its migrations in the same database.
  migrations: { schema: 'drizzle', table: '__secretary_migrations' },
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
});
