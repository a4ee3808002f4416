import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** Extended-protocol messages that leave the unnamed statement or portal open until a Sync. */
const MID_BATCH = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));
const SYNC = 'S'.charCodeAt(0);
const SIMPLE_QUERY = 'Q'.charCodeAt(0);

/**
 * pglite-socket runs every connection's messages, one at a time, in PGlite's single session and
 * keeps a connection's turn only inside a transaction (electric-sql/pglite#1046). A Parse/Bind/
 * Execute/Sync batch is not a transaction, so two connections' batches interleave and one binds the
 * other's unnamed statement: "bind message supplies 2 parameters, but prepared statement "" requires
 * 1", or a wrong result when the shapes match. The queue asks `isInTransaction()` of the database it
 * was given; answering "yes" also between a Parse and its Sync keeps the batch together.
 */
function keepExtendedBatchesTogether(server: PGLiteSocketServer, db: PGlite): void {
  const queue = (server as unknown as { queryQueue?: { db?: unknown } }).queryQueue;
  if (!queue || queue.db !== db || typeof db.execProtocolRawStream !== 'function')
    throw new Error(
      'pglite-socket changed its query queue: re-check the batch interleaving fix (electric-sql/pglite#1046)',
    );
  let midBatch = false;
  queue.db = new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'isInTransaction') return () => midBatch || target.isInTransaction();
      if (property === 'execProtocolRawStream')
        return (message: Uint8Array, options: Parameters<PGlite['execProtocolRawStream']>[1]) => {
          const type = message[0] ?? 0;
          if (MID_BATCH.has(type)) midBatch = true;
          else if (type === SYNC || type === SIMPLE_QUERY) midBatch = false;
          return target.execProtocolRawStream(message, options);
        };
      if (property === 'exec')
        // Called when the pinned connection went away: its batch is over as well.
        return (...args: Parameters<PGlite['exec']>) => {
          midBatch = false;
          return target.isInTransaction() ? target.exec(...args) : Promise.resolve([]);
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
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
  keepExtendedBatchesTogether(server, db);
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
