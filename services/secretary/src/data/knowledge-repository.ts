import type { KnowledgeDocument, KnowledgeDocumentSummary } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import type pg from 'pg';
import type {
  KnowledgeDocumentDraft,
  KnowledgeSource,
  KnowledgeStorePort,
  PassageDraft,
  UpsertOutcome,
} from '../domain/knowledge-ports.js';
import { guardDatabase } from '@workemon/db';

interface DocumentRow {
  id: string;
  title: string;
  body?: string;
  tags: string[];
  url: string | null;
  source: KnowledgeSource;
  content_hash: string;
  updated_at: Date;
  passages?: number;
}

function toSummary(row: DocumentRow): KnowledgeDocumentSummary {
  return {
    id: row.id,
    title: row.title,
    tags: row.tags,
    url: row.url,
    source: row.source,
    content_hash: row.content_hash,
    updated_at: row.updated_at.toISOString(),
  };
}

const CURSOR_PREFIX = 'kd:';

/**
 * knowledge.documents and knowledge.passages. Plain SQL: each passage's tsvector is built by
 * Postgres from the document title (weight A), heading path and tags (B) and the passage text (C).
 */
export class KnowledgeRepository implements KnowledgeStorePort {
  constructor(private readonly pool: pg.Pool) {}

  find(id: string): Promise<KnowledgeDocument | undefined> {
    return guardDatabase(async () => {
      const { rows } = await this.pool.query<DocumentRow>(
        `select d.id, d.title, d.body, d.tags, d.url, d.source, d.content_hash, d.updated_at,
                (select count(*)::int from knowledge.passages p where p.document_id = d.id) as passages
           from knowledge.documents d where d.id = $1`,
        [id],
      );
      const row = rows[0];
      return row ? { ...toSummary(row), body: row.body ?? '', passages: row.passages ?? 0 } : undefined;
    });
  }

  list(
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: KnowledgeDocumentSummary[]; next_cursor: string | null }> {
    return guardDatabase(async () => {
      const after = cursor === undefined ? null : decodeCursor(cursor);
      const { rows } = await this.pool.query<DocumentRow>(
        `select id, title, tags, url, source, content_hash, updated_at from knowledge.documents
          where $1::text is null or id > $1 order by id limit $2`,
        [after, limit + 1],
      );
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map(toSummary),
        next_cursor:
          rows.length > limit && last
            ? Buffer.from(`${CURSOR_PREFIX}${last.id}`).toString('base64url')
            : null,
      };
    });
  }

  upsert(
    document: KnowledgeDocumentDraft & { contentHash: string },
    source: KnowledgeSource,
    passages: PassageDraft[],
  ): Promise<UpsertOutcome> {
    return guardDatabase(async () => {
      const client = await this.pool.connect();
      try {
        await client.query('begin');
        // No row back: same content from the same source, nothing to do.
        const { rows } = await client.query<{ inserted: boolean }>(
          `insert into knowledge.documents (id, title, body, tags, url, content_hash, source)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (id) do update set title = excluded.title, body = excluded.body, tags = excluded.tags,
             url = excluded.url, content_hash = excluded.content_hash, source = excluded.source, updated_at = now()
           where knowledge.documents.content_hash is distinct from excluded.content_hash
              or knowledge.documents.source is distinct from excluded.source
           returning (xmax = 0) as inserted`,
          [
            document.id,
            document.title,
            document.body,
            document.tags,
            document.url,
            document.contentHash,
            source,
          ],
        );
        const row = rows[0];
        if (!row) {
          await client.query('commit');
          return 'unchanged';
        }
        await client.query('delete from knowledge.passages where document_id = $1', [document.id]);
        await client.query(
          `insert into knowledge.passages (document_id, ordinal, heading_path, text, search)
           select $1, p.ordinal, p.heading_path, p.text,
                  setweight(to_tsvector('russian', $2), 'A')
               || setweight(to_tsvector('russian', p.heading_path || ' ' || $3), 'B')
               || setweight(to_tsvector('russian', p.text), 'C')
             from unnest($4::int[], $5::text[], $6::text[]) as p(ordinal, heading_path, text)`,
          [
            document.id,
            document.title,
            document.tags.join(' '),
            passages.map((p) => p.ordinal),
            passages.map((p) => p.headingPath),
            passages.map((p) => p.text),
          ],
        );
        await client.query(
          `insert into knowledge.lexemes (lexeme)
           select distinct unnest(tsvector_to_array(search)) from knowledge.passages where document_id = $1
           on conflict do nothing`,
          [document.id],
        );
        await client.query('commit');
        return row.inserted ? 'created' : 'updated';
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    });
  }

  delete(id: string): Promise<boolean> {
    return guardDatabase(async () => {
      const result = await this.pool.query('delete from knowledge.documents where id = $1', [id]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  index(): Promise<{ id: string; contentHash: string; source: KnowledgeSource }[]> {
    return guardDatabase(async () => {
      const { rows } = await this.pool.query<{ id: string; content_hash: string; source: KnowledgeSource }>(
        'select id, content_hash, source from knowledge.documents',
      );
      return rows.map((r) => ({ id: r.id, contentHash: r.content_hash, source: r.source }));
    });
  }

  count(): Promise<number> {
    return guardDatabase(async () => {
      const { rows } = await this.pool.query<{ n: number }>(
        'select count(*)::int as n from knowledge.documents',
      );
      return rows[0]?.n ?? 0;
    });
  }
}

function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!decoded.startsWith(CURSOR_PREFIX))
    throw AppError.badRequest("Parameter 'cursor' is not a cursor this API issued");
  return decoded.slice(CURSOR_PREFIX.length);
}
