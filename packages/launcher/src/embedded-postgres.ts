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
const PARSE = 'P'.charCodeAt(0);
const CLOSE = 'C'.charCodeAt(0);
const FLUSH = 'H'.charCodeAt(0);
const PARSE_COMPLETE = Uint8Array.of('1'.charCodeAt(0), 0, 0, 0, 4);
/**
 * A simple query that drops prepared statements: one that is a DEALLOCATE or DISCARD command, not any
 * text that mentions the words. Forgetting a statement the session still holds would send its next
 * Parse to PGlite: 42P05 on every use of it from then on. (The services send neither command.)
 */
const DROPS_STATEMENTS = /^\s*(?:deallocate|discard)\b/i;

/** The NUL-terminated name that starts a Parse or Close body (after the Close's kind byte). */
function statementName(message: Uint8Array, start: number): string {
  const end = message.indexOf(0, start);
  return Buffer.from(message.buffer, message.byteOffset + start, Math.max(0, end - start)).toString('utf8');
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

/**
 * pglite-socket runs every connection's messages, one at a time, in PGlite's single session and
 * keeps a connection's turn only inside a transaction (electric-sql/pglite#1046). A Parse/Bind/
 * Execute/Sync batch is not a transaction, so two connections' batches interleave and one binds the
 * other's unnamed statement: "bind message supplies 2 parameters, but prepared statement "" requires
 * 1", or a wrong result when the shapes match. The queue asks `isInTransaction()` of the database it
 * was given; answering "yes" also between a Parse and its Sync keeps the batch together.
 *
 * The one session also holds every connection's named statements: a name one pooled connection
 * prepared already exists when the next parses it (42P05), even after the first one closed. A Parse
 * of a name that exists with byte-for-byte the same text and types is answered here with
 * ParseComplete, as if each connection had its own namespace; a different text under the name still
 * reaches PGlite and fails. The services name statements after their constant text
 * (`namedQuery` in @workemon/db), so the session holds one statement per text, however connections
 * come and go.
 *
 * A batch's answers are kept until its Sync (or Flush) and written to the socket at once, as
 * PostgreSQL buffers them; pglite-socket would write each message's answer on its own.
 */
function keepExtendedBatchesTogether(server: PGLiteSocketServer, db: PGlite): void {
  const queue = (server as unknown as { queryQueue?: { db?: unknown } }).queryQueue;
  if (!queue || queue.db !== db || typeof db.execProtocolRawStream !== 'function')
    throw new Error(
      'pglite-socket changed its query queue: re-check the batch interleaving fix (electric-sql/pglite#1046)',
    );
  let midBatch = false;
  /** Named statements in the session, each with the Parse message that created it. */
  const prepared = new Map<string, Uint8Array>();
  /** The batch's answers so far: sent in one write at its Sync (or Flush), as PostgreSQL does. */
  let pending: Buffer[] = [];
  const keep = (data: Uint8Array) => {
    // A copy: PGlite may reuse the memory it handed over.
    if (data.length > 0) pending.push(Buffer.from(data));
  };
  const run = (message: Uint8Array, type: number): Promise<void> => {
    // A batch starts with its Parse (node-postgres sends one per batch), never after an error.
    if (type === PARSE && !midBatch && message[5] !== 0) {
      midBatch = true;
      const name = statementName(message, 5);
      const known = prepared.get(name);
      if (known && sameBytes(known, message)) {
        keep(PARSE_COMPLETE);
        return Promise.resolve();
      }
      let parsed = false;
      return db
        .execProtocolRawStream(message, {
          onRawData: (data) => {
            if (data[0] === PARSE_COMPLETE[0]) parsed = true;
            keep(data);
          },
        })
        .then(() => {
          if (parsed) prepared.set(name, Uint8Array.from(message));
        });
    }
    if (MID_BATCH.has(type)) {
      midBatch = true;
      // Close of a statement ('S'): the name is free again.
      if (type === CLOSE && message[5] === 'S'.charCodeAt(0)) prepared.delete(statementName(message, 6));
    } else if (type === SYNC) midBatch = false;
    else if (type === SIMPLE_QUERY) {
      midBatch = false;
      if (prepared.size > 0 && DROPS_STATEMENTS.test(Buffer.from(message.subarray(5)).toString('latin1')))
        prepared.clear();
    }
    return db.execProtocolRawStream(message, { onRawData: keep });
  };
  const execProtocolRawStream = async (
    message: Uint8Array,
    options: Parameters<PGlite['execProtocolRawStream']>[1],
  ): Promise<void> => {
    const type = message[0] ?? 0;
    let failed = true;
    try {
      await run(message, type);
      failed = false;
    } finally {
      // One socket write per batch instead of one per message: the writes were most of the
      // process's CPU for a small statement.
      if ((failed || type === FLUSH || !MID_BATCH.has(type)) && pending.length > 0) {
        const data = pending.length === 1 ? pending[0] : Buffer.concat(pending);
        pending = [];
        if (data) options.onRawData(data);
      }
    }
  };
  queue.db = new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'isInTransaction') return () => midBatch || target.isInTransaction();
      if (property === 'execProtocolRawStream') return execProtocolRawStream;
      if (property === 'exec')
        // Called when the pinned connection went away: its batch is over as well.
        return (...args: Parameters<PGlite['exec']>) => {
          midBatch = false;
          pending = [];
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
