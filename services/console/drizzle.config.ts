import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/data/schema.ts',
  out: './drizzle',
  schemaFilter: ['console'],
  // Own bookkeeping table: the secretary and communicator keep theirs in the same database.
  migrations: { schema: 'drizzle', table: '__console_migrations' },
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
});
