import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * PGlite (Postgres compiled to WASM) served over the Postgres wire protocol, so the
 * services use exactly the code path they use against a real server: only a URL.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  // pg_trgm: the secretary's knowledge search corrects misspelled words with it (its migration creates it).
  const db = await PGlite.create(dataDir, { extensions: { pg_trgm } });
  // Every service keeps a small pool; PGlite serialises queries (and keeps a transaction on its own connection).
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 200 });
  await server.start();
  const conn = server.getServerConn();
  return {
    url: `postgres://postgres@${conn}/postgres?sslmode=disable`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
