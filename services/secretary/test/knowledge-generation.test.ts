import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOOKUP } from '../src/data/exchange-repository.js';
import { KNOWLEDGE_GENERATION } from '../src/data/knowledge-generation.js';
import { KnowledgeRepository } from '../src/data/knowledge-repository.js';
import { contentHash, splitIntoPassages } from '../src/domain/knowledge-document.js';
import type { KnowledgeDocumentDraft } from '../src/domain/knowledge-ports.js';
import { createMigratedDatabase, DATABASE_KINDS, type MigratedDatabase } from './support/database-kinds.js';

// Every answer reads the knowledge base's generation (what a search learnt is kept per generation).
// It must move with every change to the knowledge base, in the same transaction, and cost the same
// whatever the knowledge base's size.
describe.each(DATABASE_KINDS)('knowledge generation on %s', (kind) => {
  let database: MigratedDatabase;
  let pool: pg.Pool;
  let store: KnowledgeRepository;

  beforeAll(async () => {
    database = await createMigratedDatabase(kind, 'wm_knowledge_generation');
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    store = new KnowledgeRepository(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.close();
  });

  const generation = async () => {
    const { rows } = await pool.query<{ documents: number; key: string }>(KNOWLEDGE_GENERATION);
    expect(rows).toHaveLength(1);
    return rows[0] ?? { documents: -1, key: '' };
  };
  const draft = (id: string, body: string): KnowledgeDocumentDraft => ({
    id,
    title: `Документ ${id}`,
    body,
    tags: [],
    url: null,
  });
  const upsert = (document: KnowledgeDocumentDraft) =>
    store.upsert(
      { ...document, contentHash: contentHash(document) },
      'api',
      splitIntoPassages(document.title, document.body),
    );

  it('when documents are added, changed, deleted or truncated, then the key moves and the count follows; an unchanged write moves nothing', async () => {
    const empty = await generation();
    expect(empty.documents).toBe(0);

    expect(await upsert(draft('first', 'Первый текст.'))).toBe('created');
    expect(await upsert(draft('second', 'Второй текст.'))).toBe('created');
    const two = await generation();
    expect(two.documents).toBe(2);
    expect(two.key).not.toBe(empty.key);

    expect(await upsert(draft('second', 'Второй текст.'))).toBe('unchanged');
    expect(await generation()).toEqual(two);

    expect(await upsert(draft('second', 'Второй текст, исправленный.'))).toBe('updated');
    const changed = await generation();
    expect(changed.documents).toBe(2);
    expect(changed.key).not.toBe(two.key);

    // A passage changed by hand (no document row touched) is a change too.
    await pool.query(`update knowledge.passages set text = text || ' ' where document_id = 'first'`);
    const passageChanged = await generation();
    expect(passageChanged.key).not.toBe(changed.key);

    expect(await store.delete('first')).toBe(true);
    const one = await generation();
    expect(one).toMatchObject({ documents: 1 });
    expect(one.key).not.toBe(passageChanged.key);

    await pool.query('truncate knowledge.documents cascade');
    const truncated = await generation();
    expect(truncated.documents).toBe(0);
    expect(truncated.key).not.toBe(one.key);
  });

  it('when a change is rolled back, then the generation is as before it', async () => {
    await upsert(draft('kept', 'Остаётся.'));
    const before = await generation();
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`delete from knowledge.documents where id = 'kept'`);
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect(await generation()).toEqual(before);
  });

  it('when the knowledge base holds thousands of documents, then the statements every answer runs read one row, not the documents', async () => {
    await pool.query(
      `insert into knowledge.documents (id, title, body, content_hash, source)
       select 'bulk-' || g, 'Документ ' || g, 'Текст ' || g, md5(g::text), 'api' from generate_series(1, 3000) g`,
    );
    await pool.query('analyze knowledge.documents');
    expect((await generation()).documents).toBeGreaterThanOrEqual(3000);
    for (const [text, params] of [
      [KNOWLEDGE_GENERATION, []],
      [LOOKUP, ['someone', 'direct']],
    ] as const) {
      const { rows } = await pool.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${text}`, [
        ...params,
      ]);
      const plan = JSON.stringify(rows[0]?.['QUERY PLAN']);
      expect(plan).toContain('"Relation Name":"generation"');
      expect(plan).not.toContain('"Relation Name":"documents"');
      expect(plan).not.toContain('"Relation Name":"passages"');
    }
  });
});
