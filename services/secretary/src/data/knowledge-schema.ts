import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  pgSchema,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

/** The knowledge base: documents the answers rest on, split into searchable passages. */
export const knowledge = pgSchema('knowledge');

/** Written and read as text by Postgres itself (to_tsvector in the insert, ::text in the search). */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const documents = knowledge.table(
  'documents',
  {
    /** A kebab-case slug chosen by the author (front matter `id` or the file name). */
    id: text('id').primaryKey(),
    title: text('title').notNull(),
    /** Markdown. */
    body: text('body').notNull(),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    url: text('url'),
    /** sha256 of title, body, tags and url: an unchanged document is not rewritten. */
    contentHash: text('content_hash').notNull(),
    /** api | file: the file sync never touches documents written through the API. */
    source: text('source').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('documents_source_idx').on(t.source, t.id)],
);

export const passages = knowledge.table(
  'passages',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    documentId: text('document_id')
      .notNull()
      .references(() => documents.id, { onDelete: 'cascade' }),
    ordinal: integer('ordinal').notNull(),
    /** "Раздел › Подраздел": where in the document the passage sits. */
    headingPath: text('heading_path').notNull().default(''),
    text: text('text').notNull(),
    /** title (A), headings and tags (B), text (C); `russian` configuration. */
    search: tsvector('search').notNull(),
  },
  (t) => [
    index('passages_search_idx').using('gin', t.search),
    index('passages_document_idx').on(t.documentId, t.ordinal),
  ],
);

/**
 * Every lexeme the passages contain, with a trigram index: a misspelled or oddly inflected query
 * word is corrected to the lexemes it resembles (pg_trgm's documented spelling-correction recipe).
 * Rows are only added; a lexeme whose passages are gone matches nothing and costs nothing.
 */
export const lexemes = knowledge.table('lexemes', { lexeme: text('lexeme').primaryKey() }, (t) => [
  index('lexemes_trgm_idx').using('gin', t.lexeme.op('gin_trgm_ops')),
]);

/**
 * The knowledge base's generation, in one row kept by triggers (migration 0007): how many documents
 * there are, and a version bumped by every statement that changes a document or a passage, in the
 * same transaction. Every answer reads it, so reading it costs one row whatever the size of the
 * knowledge base (aggregating the documents instead grew by ~0.2 ms per thousand documents).
 */
export const generation = knowledge.table(
  'generation',
  {
    id: boolean('id').primaryKey().default(true),
    documents: integer('documents').notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
  },
  (t) => [check('generation_one_row', sql`${t.id}`)],
);
