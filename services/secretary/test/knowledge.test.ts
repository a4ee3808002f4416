import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KNOWLEDGE_GENERATION } from '../src/data/knowledge-generation.js';
import { LexicalKnowledgeRetriever } from '../src/data/lexical-knowledge-retriever.js';
import type { KnowledgeGeneration } from '../src/domain/knowledge-ports.js';
import { createKnowledge } from '../src/knowledge.js';
import { createMigratedDatabase, DATABASE_KINDS, type MigratedDatabase } from './support/database-kinds.js';
import {
  analystAnswer,
  enoughContext,
  type FakeUpstream,
  notEnoughContext,
  startFakeUpstream,
} from './support/fake-upstream.js';
import { type RunningSecretary, startSecretary } from './support/secretary.js';

const API_KEY = 'knowledge-test-key';

const doc = (title: string, body: string, extra: Record<string, unknown> = {}) => ({ title, body, ...extra });

const CORPUS: Record<string, ReturnType<typeof doc>> = {
  'auth-cube': doc(
    'Аналитический куб авторизаций',
    '# Куб авторизаций\n\nВсе запросы на авторизацию по картам: одобренные и отклонённые, код ответа, MCC.\n\n' +
      '## Владелец\n\nКоманда «Карточная аналитика». Доработки — задачей в Jira-проекте DWH.',
    { tags: ['куб', 'authorization'], url: 'https://wiki.example/auth-cube' },
  ),
  'wallet-cube': doc(
    'Куб операций электронных кошельков',
    '# Куб кошельков\n\nПополнения, переводы и оплаты электронных кошельков, обороты и активные кошельки.',
    { tags: ['кошелёк', 'wallet'] },
  ),
  'dwh-access': doc(
    'Как получить доступ к хранилищу DWH',
    '## Шаги\n\n1. Заявка в ServiceDesk «Доступ к DWH».\n2. Согласование руководителя и владельца данных.',
  ),
  'card-transactions': doc(
    'Витрина карточных транзакций',
    'Проведённые операции по картам: покупки, снятия наличных, возвраты, RRN и MCC.',
  ),
};

describe.each(DATABASE_KINDS)('knowledge base on %s', (kind) => {
  let database: MigratedDatabase;
  let guesser: FakeUpstream;
  let analyst: FakeUpstream;
  let secretary: RunningSecretary;

  beforeAll(async () => {
    database = await createMigratedDatabase(kind, 'wm_knowledge');
    guesser = await startFakeUpstream(() => enoughContext());
    analyst = await startFakeUpstream(() => analystAnswer());
    secretary = await startSecretary({
      databaseUrl: database.url,
      guesserUrl: guesser.url,
      analystUrl: analyst.url,
      env: {
        API_KEYS: API_KEY,
        KNOWLEDGE_MAX_DOCUMENT_CHARS: '5000',
        // No exchange sweep while a test counts an answer's statements.
        HEARTBEAT_INTERVAL_MS: '600000',
        OWNER_TIMEOUT_MS: '1200000',
      },
    });
    for (const [id, body] of Object.entries(CORPUS)) {
      const res = await secretary.call(`/knowledge/documents/${id}`, { method: 'PUT', body });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  });

  afterAll(async () => {
    await secretary?.close();
    await guesser?.close();
    await analyst?.close();
    await database?.close();
  });

  describe('documents API', () => {
    it('when a document is PUT again unchanged, then it is a 200 no-op that keeps updated_at', async () => {
      const first = await secretary.call('/knowledge/documents/auth-cube');
      const again = await secretary.call('/knowledge/documents/auth-cube', {
        method: 'PUT',
        body: { ...CORPUS['auth-cube'], tags: ['authorization', 'куб'] },
      });
      expect(again.status).toBe(200);
      expect(again.body.outcome).toBe('unchanged');
      expect(again.body.updated_at).toBe(first.body.updated_at);
    });

    it('when a document changes, then it is a 200 update and its passages follow the new text', async () => {
      const id = 'changing-doc';
      expect(
        (
          await secretary.call(`/knowledge/documents/${id}`, {
            method: 'PUT',
            body: doc('Регламент А', 'Старый текст про фламинго.'),
          })
        ).status,
      ).toBe(201);
      const updated = await secretary.call(`/knowledge/documents/${id}`, {
        method: 'PUT',
        body: doc('Регламент А', '# Раздел\n\nНовый текст про пеликанов.\n\n## Подраздел\n\nЕщё абзац.'),
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ outcome: 'updated', source: 'api', passages: 2 });
      expect((await secretary.call('/knowledge/search?q=фламинго')).body.items).toEqual([]);
      const found = await secretary.call('/knowledge/search?q=пеликаны');
      expect((found.body.items as { id: string }[]).map((i) => i.id)).toEqual([id]);
      expect((await secretary.call(`/knowledge/documents/${id}`, { method: 'DELETE' })).status).toBe(204);
      expect((await secretary.call(`/knowledge/documents/${id}`)).status).toBe(404);
      expect((await secretary.call(`/knowledge/documents/${id}`, { method: 'DELETE' })).status).toBe(404);
      expect((await secretary.call('/knowledge/search?q=пеликаны')).body.items).toEqual([]);
    });

    it('when another secretary changes the knowledge base, then searches here see it at once (nothing stale is cached)', async () => {
      // A second retriever on the same database stands for another process with its own caches.
      const elsewhere = createKnowledge(
        { KNOWLEDGE_MAX_DOCUMENT_CHARS: 5000, KNOWLEDGE_MIN_SCORE: 0.5, KNOWLEDGE_PASSAGES: 4 },
        secretary.database,
        secretary.metrics,
        (await import('@workemon/logger')).createLogger({
          service: 't',
          version: 't',
          stream: secretary.logs,
        }),
      ).retriever;
      const ids = async (q: string) => (await elsewhere.search(q, 3)).map((h) => h.id);
      const id = 'cached-elsewhere';
      const put = (body: string) =>
        secretary.call(`/knowledge/documents/${id}`, { method: 'PUT', body: doc(body, body) });
      // Learnt here while no document had the word: a misspelling with nothing to correct it to.
      expect(await ids('альбатрасы')).toEqual([]);
      expect((await put('Альбатросы')).status).toBe(201);
      expect(await ids('альбатрасы')).toEqual([id]);
      expect(await ids('альбатросы')).toEqual([id]);
      expect(await ids('альбатросы')).toEqual([id]); // now from what it learned
      expect((await put('Буревестники')).status).toBe(200);
      expect(await ids('альбатросы')).toEqual([]);
      expect(await ids('буревестники')).toEqual([id]);
      expect((await secretary.call(`/knowledge/documents/${id}`, { method: 'DELETE' })).status).toBe(204);
      expect(await ids('буревестники')).toEqual([]);
    });

    it('when the caller read the generation with the requester, then a known search asks nothing and a write is still seen', async () => {
      const statements: string[] = [];
      const pool = secretary.database.pool;
      // Counts what the retriever asks; everything else goes to the real pool.
      const counting = {
        query: (config: { text: string }, values?: unknown[]) => {
          statements.push(config.text);
          return pool.query(config as never, values as never);
        },
      } as unknown as typeof pool;
      const retriever = new LexicalKnowledgeRetriever(counting, { minScore: 0.5 });
      const generation = async () =>
        (await pool.query<KnowledgeGeneration>(KNOWLEDGE_GENERATION)).rows[0] as KnowledgeGeneration;
      const ids = async (q: string, seen?: KnowledgeGeneration) =>
        ((await retriever.searchEach([q], 3, seen)) ?? [[]])[0]?.map((h) => h.id);
      const id = 'seen-generation';
      const put = (body: string) =>
        secretary.call(`/knowledge/documents/${id}`, { method: 'PUT', body: doc(body, body) });
      expect((await put('Пингвины')).status).toBe(201);
      const first = await ids('пингвины', await generation());
      expect(first).toEqual([id]);
      expect(statements.length).toBeGreaterThan(0); // learnt under this generation

      statements.length = 0;
      expect(await ids('пингвины', await generation())).toEqual([id]);
      expect(statements).toEqual([]); // everything known: no round trip
      expect(await ids('пингвины')).toEqual([id]);
      expect(statements).toHaveLength(1); // without a generation it is asked for

      // Another writer changes the document: the next generation read is new, so nothing stale is used.
      expect((await put('Тюлени')).status).toBe(200);
      statements.length = 0;
      expect(await ids('пингвины', await generation())).toEqual([]);
      expect(await ids('тюлени', await generation())).toEqual([id]);
      expect(statements.length).toBeGreaterThan(0);
      expect((await secretary.call(`/knowledge/documents/${id}`, { method: 'DELETE' })).status).toBe(204);
      expect(await ids('тюлени', await generation())).toEqual([]);
    });

    it('when a question is asked again, then its answer costs the database two statements: the requester and the exchange', async () => {
      // The knowledge base's generation comes with the requester; a search that knows everything
      // under it asks nothing more. Counted through the secretary's own pool, as the answer runs.
      const pool = secretary.database.pool;
      const ask = () =>
        secretary.analyze({
          channel: 'direct',
          username: `again_${Math.random().toString(36).slice(2)}`,
          request: 'Где посмотреть отклонённые авторизации по картам?',
        });
      expect((await ask()).status).toBe(200); // learns the words and the candidates
      const statements: string[] = [];
      const query = pool.query.bind(pool);
      const spy = vi.spyOn(pool, 'query').mockImplementation(((config: unknown, ...rest: unknown[]) => {
        statements.push(typeof config === 'string' ? config : (config as { text: string }).text);
        return (query as (...args: unknown[]) => unknown)(config, ...rest);
      }) as never);
      try {
        const again = await ask();
        expect(again.status).toBe(200);
        expect(again.body.sources).not.toEqual([]);
      } finally {
        spy.mockRestore();
      }
      // Nothing else runs here in between: the exchange sweep waits HEARTBEAT_INTERVAL_MS.
      expect(statements.map((text) => /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase())).toEqual([
        'SELECT',
        'INSERT',
      ]);
      expect(statements[0]).toContain('secretary.users');
    });

    it('when the list is paged, then every document appears once across pages, ordered by id', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: Awaited<ReturnType<RunningSecretary['call']>> = await secretary.call(
          `/knowledge/documents?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(res.status).toBe(200);
        seen.push(...(res.body.items as { id: string }[]).map((i) => i.id));
        cursor = res.body.next_cursor as string | null;
      } while (cursor);
      expect(seen).toEqual(Object.keys(CORPUS).sort());
      const bad = await secretary.call('/knowledge/documents?cursor=bm9wZQ');
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain("'cursor'");
    });

    it('when the id is not a kebab-case slug, then the answer is a 400 naming id', async () => {
      for (const id of ['Auth_Cube', 'куб', '-lead', 'a--b']) {
        const res = await secretary.call(`/knowledge/documents/${encodeURIComponent(id)}`, {
          method: 'PUT',
          body: doc('T', 'B'),
        });
        expect(res.status, id).toBe(400);
        expect(res.body.message).toContain("'id'");
      }
    });

    it('when fields are missing or wrong, then the answer is a 400 naming the field', async () => {
      const cases: [unknown, string][] = [
        [{ body: 'x' }, "'title'"],
        [{ title: 'x' }, "'body'"],
        [{ title: 'x', body: 'y', tags: 'one' }, "'tags'"],
        [{ title: 'x', body: 'y', url: 'ftp://x' }, "'url'"],
      ];
      for (const [body, name] of cases) {
        const res = await secretary.call('/knowledge/documents/some-doc', { method: 'PUT', body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.message).toContain(name);
      }
    });

    it('when the body is over the limit, then the answer is a 413 saying the limit and nothing is stored', async () => {
      const res = await secretary.call('/knowledge/documents/huge-doc', {
        method: 'PUT',
        body: doc('Огромный', 'я'.repeat(5001)),
      });
      expect(res.status).toBe(413);
      expect(res.body.message).toContain('5000');
      expect((await secretary.call('/knowledge/documents/huge-doc')).status).toBe(404);
    });

    it('when no API key is sent, then knowledge routes answer 401', async () => {
      expect((await secretary.call('/knowledge/search?q=куб', { token: null })).status).toBe(401);
      expect(
        (await secretary.call('/knowledge/documents/x', { method: 'PUT', body: doc('T', 'B'), token: null }))
          .status,
      ).toBe(401);
    });
  });

  describe('search', () => {
    const ids = async (q: string) => {
      const res = await secretary.call(`/knowledge/search?q=${encodeURIComponent(q)}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return (res.body.items as { id: string }[]).map((i) => i.id);
    };

    it('when q is missing or empty, then the answer is a 400 naming q', async () => {
      for (const path of ['/knowledge/search', '/knowledge/search?q=', '/knowledge/search?q=%20%20']) {
        const res = await secretary.call(path);
        expect(res.status, path).toBe(400);
        expect(res.body.message).toContain("'q'");
      }
      expect((await secretary.call('/knowledge/search?q=куб&limit=0')).body.message).toContain("'limit'");
    });

    it('when the question uses inflected Russian forms, then the document written in other forms ranks first', async () => {
      expect((await ids('отклонённых авторизациях по карте'))[0]).toBe('auth-cube');
      expect((await ids('пополнениями кошельков'))[0]).toBe('wallet-cube');
      expect((await ids('доступа в хранилище'))[0]).toBe('dwh-access');
    });

    it('when a word is misspelled, then trigram correction still finds the document', async () => {
      expect((await ids('куб авторизацый'))[0]).toBe('auth-cube');
      expect((await ids('электроных кашельков'))[0]).toBe('wallet-cube');
    });

    it('when the question uses an English term from the tags, then the document is found', async () => {
      expect((await ids('authorization'))[0]).toBe('auth-cube');
    });

    it('when one document answers, then it appears once with a snippet, url and a score in 0..1', async () => {
      const res = await secretary.call('/knowledge/search?q=кто владелец куба авторизаций');
      const items = res.body.items as { id: string; score: number; snippet: string; url?: string }[];
      expect(items.filter((i) => i.id === 'auth-cube')).toHaveLength(1);
      expect(items[0]).toMatchObject({ id: 'auth-cube', url: 'https://wiki.example/auth-cube' });
      expect(items[0]?.score).toBeGreaterThan(0);
      expect(items[0]?.score).toBeLessThanOrEqual(1);
      expect(items[0]?.snippet.length).toBeGreaterThan(0);
      const scores = items.map((i) => i.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    });

    it('when nothing in the knowledge base covers the question, then search returns no documents', async () => {
      expect(await ids('рецепт борща со сметаной')).toEqual([]);
      expect(await ids('как оформить отпуск')).toEqual([]);
    });

    it('when the search runs, then knowledge_search_duration_seconds counts it', async () => {
      const metrics = await secretary.metrics.registry.getSingleMetricAsString(
        'knowledge_search_duration_seconds',
      );
      expect(metrics).toMatch(/knowledge_search_duration_seconds_count\{[^}]*\} [1-9]/);
    });
  });

  describe('grounded answers', () => {
    const passedIds = () =>
      ((analyst.calls.at(-1)?.body.passages ?? []) as { id: string }[]).map((p) => p.id);

    it('when documents match the request, then the analyst gets their passages and the answer cites exactly them', async () => {
      guesser.reset();
      analyst.reset();
      guesser.enqueue(enoughContext('Сотрудник хочет видеть отклонённые авторизации по картам.'));
      // The model cites an id nobody passed: it must not become a source.
      analyst.enqueue(analystAnswer('Смотрите куб авторизаций [auth-cube] и [invented-doc].'));
      const messageId = `<grounded-${kind}@test>`;
      const res = await secretary.analyze({
        channel: 'email',
        username: 'grounded_user',
        request: 'Где посмотреть отклонённые авторизации по картам?',
        message_id: messageId,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const passed = passedIds();
      expect(passed[0]).toBe('auth-cube');
      const passages = analyst.calls.at(-1)?.body.passages as { id: string; title: string; text: string }[];
      expect(passages[0]?.text).toContain('авторизац');
      const sources = res.body.sources as { id: string; title: string; url?: string }[];
      expect(sources.map((s) => s.id)).toEqual(passed);
      expect(sources[0]).toEqual({
        id: 'auth-cube',
        title: CORPUS['auth-cube']?.title,
        url: 'https://wiki.example/auth-cube',
      });
      expect(sources.map((s) => s.id)).not.toContain('invented-doc');

      const history = await secretary.call('/history?username=grounded_user');
      const item = (history.body.items as { sources: unknown; latency_ms: Record<string, number> }[])[0];
      expect(item?.sources).toEqual(sources);
      expect(item?.latency_ms.knowledge_ms).toBeGreaterThanOrEqual(0);

      // A repeat of the message replays the stored answer with the same sources, without calling the analyst.
      const calls = analyst.calls.length;
      const replay = await secretary.analyze({
        channel: 'email',
        username: 'grounded_user',
        request: 'Где посмотреть отклонённые авторизации по картам?',
        message_id: messageId,
      });
      expect(replay.body).toMatchObject({ replayed: true, sources });
      expect(analyst.calls.length).toBe(calls);

      const histogram = await secretary.metrics.registry.getSingleMetricAsString('knowledge_answer_sources');
      expect(histogram).toMatch(/knowledge_answer_sources_count\{[^}]*\} [1-9]/);
    });

    it('when nothing in the knowledge base covers the request, then the analyst is told so and the answer says it honestly', async () => {
      guesser.reset();
      analyst.reset();
      guesser.enqueue(enoughContext('Сотрудник спрашивает, где пообедать рядом с офисом.'));
      analyst.enqueue(analystAnswer('Попробуйте столовую на первом этаже.'));
      const res = await secretary.analyze({
        channel: 'direct',
        username: 'hungry_user',
        request: 'Где вкусно пообедать рядом с офисом?',
      });
      expect(res.status).toBe(200);
      expect(analyst.calls.at(-1)?.body.passages).toEqual([]);
      expect(res.body.sources).toEqual([]);
      expect(res.body.response).toContain('Попробуйте столовую');
      expect(res.body.response).toContain('В базе знаний не нашлось документов');
    });

    it('when the guesser asks a clarifying question, then the knowledge base is not searched and there are no sources', async () => {
      guesser.reset();
      analyst.reset();
      guesser.enqueue(notEnoughContext());
      const res = await secretary.analyze({ channel: 'tg', username: 'vague_user', request: 'куб' });
      expect(res.body.action).toBe('уточнить');
      expect(res.body).not.toHaveProperty('sources');
      expect(analyst.calls).toHaveLength(0);
    });
  });

  describe('file sync', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'wm-knowledge-files-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('when files are added, changed, removed or broken, then the store follows and the broken file is named', async () => {
      const knowledge = createKnowledge(
        {
          KNOWLEDGE_DIR: dir,
          KNOWLEDGE_MAX_DOCUMENT_CHARS: 5000,
          KNOWLEDGE_MIN_SCORE: 0.5,
          KNOWLEDGE_PASSAGES: 4,
        },
        secretary.database,
        secretary.metrics,
        // The secretary's own captured logger is not exposed; sync logs go through a fresh one below.
        (await import('@workemon/logger')).createLogger({
          service: 't',
          version: 't',
          stream: secretary.logs,
        }),
      );
      await writeFile(
        join(dir, 'gateway-limits.md'),
        '---\ntitle: Лимиты платёжного шлюза\ntags: [шлюз, limits]\n---\nЛимит шлюза — 100 операций в секунду.\n',
      );
      await writeFile(
        join(dir, 'ignored.md'),
        '---\nid: named-in-front\n---\n# Заголовок из текста\n\nТекст про семафоры.\n',
      );
      await writeFile(join(dir, 'to-remove.md'), '# Временный документ\n\nПро аквариумы.\n');
      // The API owns this id: the file sync must leave the API's version alone.
      await writeFile(join(dir, 'auth-cube.md'), '# Подмена\n\nЧужой текст.\n');
      let report = await knowledge.useCases.syncDirectory(dir);
      expect(report.added.sort()).toEqual(['gateway-limits', 'named-in-front', 'to-remove']);
      expect(report.skipped).toEqual(['auth-cube']);
      expect(report.failed).toEqual([]);
      expect((await secretary.call('/knowledge/documents/named-in-front')).body).toMatchObject({
        title: 'Заголовок из текста',
        source: 'file',
      });
      expect((await secretary.call('/knowledge/documents/auth-cube')).body.title).toBe(
        CORPUS['auth-cube']?.title,
      );

      await writeFile(
        join(dir, 'gateway-limits.md'),
        '---\ntitle: Лимиты платёжного шлюза\n---\nЛимит шлюза — 250 операций в секунду.\n',
      );
      await unlink(join(dir, 'to-remove.md'));
      await writeFile(join(dir, 'broken-yaml.md'), '---\ntitle: [не закрыт\n---\nтекст\n');
      await writeFile(join(dir, 'Bad Name.md'), '# Без id\n\nтекст\n');
      report = await knowledge.useCases.syncDirectory(dir);
      expect(report.changed).toEqual(['gateway-limits']);
      expect(report.removed).toEqual(['to-remove']);
      expect(report.unchanged).toBe(1);
      expect(report.failed.map((f) => f.file).sort()).toEqual(['Bad Name.md', 'broken-yaml.md']);
      expect(report.failed.find((f) => f.file === 'broken-yaml.md')?.error).toMatch(
        /broken-yaml\.md: front matter is not valid YAML/,
      );
      expect(report.failed.find((f) => f.file === 'Bad Name.md')?.error).toMatch(/not a kebab-case slug/);
      expect((await secretary.call('/knowledge/documents/gateway-limits')).body.body).toContain('250');
      expect((await secretary.call('/knowledge/documents/to-remove')).status).toBe(404);
      expect((await secretary.call('/knowledge/documents/auth-cube')).body.source).toBe('api');

      const line = secretary.logs
        .records()
        .filter(
          (l) =>
            (l['event.action'] ?? (l.event as { action?: string } | undefined)?.action) === 'knowledge-sync',
        )
        .at(-1);
      expect(JSON.stringify(line)).toContain('broken-yaml.md');

      // An unreadable directory changes nothing: it is not "every file was removed".
      await expect(knowledge.useCases.syncDirectory(join(dir, 'missing'))).rejects.toThrow();
      expect((await secretary.call('/knowledge/documents/gateway-limits')).status).toBe(200);
      for (const id of ['gateway-limits', 'named-in-front'])
        await secretary.call(`/knowledge/documents/${id}`, { method: 'DELETE' });
    });
  });
});
