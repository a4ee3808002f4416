import type pg from 'pg';
import type {
  KnowledgeGeneration,
  KnowledgeHit,
  KnowledgeSearchHit,
  KnowledgeMetricsPort,
  KnowledgeRetriever,
} from '../domain/knowledge-ports.js';
import { guardDatabase, namedQuery } from '@workemon/db';
import { KNOWLEDGE_GENERATION, KNOWLEDGE_GENERATION_COLUMNS } from './knowledge-generation.js';

export interface LexicalRetrieverOptions {
  /** Documents scoring below this (0..1) are not relevant enough to list or to pass to the analyst. */
  minScore: number;
  /** Passages ranked by ts_rank before the finer scoring; bounds the work per query. */
  candidates?: number;
  metrics?: KnowledgeMetricsPort;
}

/**
 * Words that say how someone asks, not what about; leaving them in would make every question look
 * partly unanswered. PostgreSQL's `russian` stop list already drops pronouns and particles.
 */
const FILLER = new Set([
  'подскажите',
  'подскажи',
  'пожалуйста',
  'скажите',
  'расскажите',
  'объясните',
  'здравствуйте',
  'привет',
  'добрый',
  'день',
  'спасибо',
  'коллеги',
  'хочу',
  'хотим',
  'хотел',
  'хотела',
  'нужно',
  'надо',
  'нужен',
  'нужна',
  'нужны',
  'можно',
  'могу',
  'какой',
  'какая',
  'какие',
  'какую',
  'каком',
  'каких',
  'где',
  'кто',
  'куда',
  'откуда',
  'зачем',
  'почему',
  'сделать',
  'делать',
  'узнать',
  'вопрос',
  'есть',
  'ли',
  'свой',
  'своя',
  'свое',
  'свои',
  'свою',
  'своего',
  'посмотреть',
  'смотреть',
  'найти',
  'получить',
  'обращаться',
  'обратиться',
  'please',
  'how',
  'what',
  'where',
  'who',
  'the',
  'a',
  'an',
  'is',
  'are',
  'do',
  'does',
  'to',
  'of',
  'in',
  'for',
]);

const MAX_WORDS = 24;
/** Words in more than this share of passages do not pick candidates (they still score). */
const COMMON_WORD_SHARE = 0.1;
/** Trigram similarity above which a stored lexeme counts as the same word misspelled or inflected differently. */
const MIN_SIMILARITY = 0.4;
const MAX_EXPANSIONS = 3;
/** Where a word matched: the title says most about a document, the body least. */
const FIELD_FACTOR: Record<number, number> = { 3: 1, 2: 0.9, 1: 0.75, 0: 0 };
/** Weight of a query word the knowledge base has never seen, as a share of the rarest word's weight. */
const UNKNOWN_WORD_SHARE = 0.6;

interface Form {
  /** The stored lexeme as a tsquery literal. */
  query: string;
  lexeme: string;
  /** 1 for the query's own lexeme, trigram similarity for a correction. */
  factor: number;
  /** Passages holding it (never 0: a form no passage holds is left out). */
  df: number;
}

interface Group {
  forms: Form[];
  weight: number;
}

interface Candidate {
  id: string;
  document_id: string;
  rank: number;
}

interface PassageDetails {
  title: string;
  url: string | null;
  heading_path: string;
  text: string;
  /** Where the passage has each lexeme: 3 title (weight A), 2 headings and tags (B), 1 text. */
  levels: Map<string, number>;
}

/** A query word's lexemes, each with its trigram corrections (query 1 of a search, per word). */
type WordLexemes = { lexeme: string; form: string | null; sim: number | null }[];

/**
 * What a search learns about words and passages that only a change of the knowledge base changes:
 * a word's lexemes and corrections, a form's passage count, a passage's text. Words repeat across
 * questions, so most searches then need one statement instead of four.
 */
interface Generation {
  /** Documents, newest change and newest passage id: any write to the knowledge base changes it. */
  key: string;
  documents: number;
  words: Map<string, WordLexemes>;
  df: Map<string, number>;
  /** A query lexeme's group (its forms and weight): a function of the lexeme and the generation. */
  groups: Map<string, Group>;
  passages: Map<string, PassageDetails>;
  /** A candidates tsquery's best passages by ts_rank: the same question twice costs no ranking. */
  candidates: Map<string, Candidate[]>;
  /** Passages in the knowledge base; undefined until a search asked. */
  n: number | undefined;
}

interface Plan {
  groups: Group[];
  orQuery: string;
}

/** Bounds the caches against a flood of made-up words: past it, a generation starts empty. */
const MAX_CACHED = 20_000;
/** Passages kept with their lexemes (a few KB each); past it, that cache starts empty. */
const MAX_CACHED_PASSAGES = 5_000;
/** Candidate lists kept (up to `candidates` ids each); past it, that cache starts empty. */
const MAX_CACHED_CANDIDATES = 1_000;

/** Query words: lowercase letters and digits, ё as е, fillers dropped, each once. */
export function queryWords(query: string): string[] {
  const words =
    query
      .toLowerCase()
      .replaceAll('ё', 'е')
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return [...new Set(words.filter((w) => !FILLER.has(w)))].slice(0, MAX_WORDS);
}

const tsLiteral = (lexeme: string) => `'${lexeme.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;

/**
 * Full-text search (`russian` configuration: stems, stop words) over title, headings, tags and text,
 * with pg_trgm correcting words that stemming does not join (misspellings, irregular inflections).
 *
 * Score of a passage = the idf-weighted share of the query's words it contains, each word counted
 * by where it matched (title > headings/tags > text) and how exactly (own lexeme 1, a trigram
 * correction its similarity). A document scores as its best passage.
 */
export class LexicalKnowledgeRetriever implements KnowledgeRetriever {
  private generation: Generation | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: LexicalRetrieverOptions,
  ) {}

  async search(query: string, limit: number): Promise<KnowledgeSearchHit[]> {
    const hits = (await this.searchEach([query], limit))?.[0] ?? [];
    const words = queryWords(query);
    return hits.map((hit) => ({ ...hit, snippet: snippet(hit.text, words) }));
  }

  async searchEach(
    queries: string[],
    limit: number,
    seen?: KnowledgeGeneration,
  ): Promise<KnowledgeHit[][] | undefined> {
    const started = performance.now();
    try {
      return await guardDatabase(async () => {
        const words = queries.map(queryWords);
        let generation = seen
          ? this.adopt(seen.key, seen.documents)
          : (this.generation ?? (await this.current()));
        // The candidates statement (or, when every candidate list is known, the generation alone)
        // also says which generation it read: what was learnt under another one is dropped and the
        // search repeated (a write to the knowledge base in between; rare). A generation the caller
        // has just read needs no such check while everything comes from what was learnt under it.
        for (let attempt = 1; ; attempt++) {
          const asked = await this.learnWords(generation, words.flat());
          const plans = words.map((w) => this.plan(generation, w));
          const trusted = attempt === 1 && !asked && seen?.key === generation.key;
          const found = await this.candidates(generation, plans, trusted);
          if (found.key !== generation.key && attempt < 3) {
            generation = this.adopt(found.key, found.documents);
            continue;
          }
          if (found.documents === 0) return undefined;
          await this.learnPassages(generation, found.rows);
          return plans.map((plan, i) =>
            plan ? this.hits(generation, this.score(generation, plan, found.rows[i] ?? [], limit)) : [],
          );
        }
      });
    } finally {
      const seconds = (performance.now() - started) / 1000;
      for (let i = 0; i < queries.length; i++) this.options.metrics?.searched(seconds);
    }
  }

  /** Only before the first search: later ones learn the generation from their candidates statement. */
  private async current(): Promise<Generation> {
    const { rows } = await namedQuery<KnowledgeGeneration>(this.pool, KNOWLEDGE_GENERATION, []);
    return this.adopt(rows[0]?.key ?? '', rows[0]?.documents ?? 0);
  }

  private adopt(key: string, documents: number): Generation {
    const known = this.generation;
    if (known && known.key === key) return known;
    const fresh: Generation = {
      key,
      documents,
      words: new Map(),
      df: new Map(),
      groups: new Map(),
      passages: new Map(),
      candidates: new Map(),
      n: undefined,
    };
    this.generation = fresh;
    return fresh;
  }

  /** The weighted word groups and the tsquery that picks candidates; undefined: nothing to look for. */
  private plan(generation: Generation, words: string[]): Plan | undefined {
    if (words.length === 0) return undefined;
    const groups = this.groups(generation, words);
    // Each form once, in the order the groups give them, with its passage count.
    const forms = new Map<string, number>();
    for (const group of groups) for (const form of group.forms) forms.set(form.query, form.df);
    if (forms.size === 0) return undefined;
    // Candidates come from the selective words: a word in most passages would make every passage a
    // candidate (and ts_rank over all of them is the cost of a search). It still counts in the score.
    const common = Math.max(COMMON_WORD_SHARE * (generation.n ?? 0), 50);
    const selective: string[] = [];
    for (const [query, df] of forms) if (df <= common) selective.push(query);
    return { groups, orQuery: (selective.length > 0 ? selective : [...forms.keys()]).join(' | ') };
  }

  /**
   * One statement for all queries of a search: the generation, and per query its best passages by
   * ts_rank — only for the queries this generation has not ranked yet; when it has ranked them all,
   * the generation alone. Where each passage has each word is read from the passage's lexemes,
   * learnt once. Lists read under the generation the search assumed are kept for the next search.
   * `trusted`: the generation was read just now, so when every list is known nothing is asked.
   */
  private async candidates(
    generation: Generation,
    plans: (Plan | undefined)[],
    trusted: boolean,
  ): Promise<{ documents: number; key: string; rows: Candidate[][] }> {
    const queries = plans.map((plan) => plan?.orQuery ?? '');
    const missing = [...new Set(queries.filter((q) => q !== '' && !generation.candidates.has(q)))];
    let documents: number;
    let key: string;
    const fetched = new Map<string, Candidate[]>(missing.map((q) => [q, []]));
    if (missing.length === 0 && trusted) {
      documents = generation.documents;
      key = generation.key;
    } else if (missing.length === 0) {
      const { rows } = await namedQuery<KnowledgeGeneration>(this.pool, KNOWLEDGE_GENERATION, []);
      documents = rows[0]?.documents ?? 0;
      key = rows[0]?.key ?? '';
    } else {
      const { rows } = await namedQuery<{
        documents: number;
        key: string;
        candidates: [number, string, string, number][] | null;
      }>(
        this.pool,
        `with q as materialized (
           select q.i, q.query::tsquery as query
             from unnest($1::text[]) with ordinality as q(query, i) where q.query <> ''),
         cand as (
           select q.i, c.id, c.document_id, c.rank
             from q cross join lateral (
               select p.id, p.document_id, ts_rank('{0.2,0.5,0.8,1.0}', p.search, q.query) as rank
                 from knowledge.passages p where p.search @@ q.query
                order by rank desc limit $2) c)
         select ${KNOWLEDGE_GENERATION_COLUMNS},
                (select json_agg(json_build_array(c.i, c.id::text, c.document_id, c.rank::float8)
                          order by c.i, c.rank desc) from cand c) as candidates
           from knowledge.generation`,
        [missing, this.options.candidates ?? 60],
      );
      documents = rows[0]?.documents ?? 0;
      key = rows[0]?.key ?? '';
      for (const [query, id, documentId, rank] of rows[0]?.candidates ?? [])
        fetched.get(missing[query - 1] ?? '')?.push({ id, document_id: documentId, rank });
      if (key === generation.key) {
        if (generation.candidates.size + missing.length > MAX_CACHED_CANDIDATES)
          generation.candidates.clear();
        for (const [query, list] of fetched) generation.candidates.set(query, list);
      }
    }
    return {
      documents,
      key,
      rows: queries.map((q) => fetched.get(q) ?? generation.candidates.get(q) ?? []),
    };
  }

  private score(
    generation: Generation,
    { groups }: Plan,
    rows: Candidate[],
    limit: number,
  ): [string, { passageId: string; score: number; rank: number }][] {
    let total = 0;
    for (const group of groups) total += group.weight;
    // Each candidate's score by index, and per document the index of its best passage: objects are
    // made only for the documents returned.
    const scores = new Float64Array(rows.length);
    const scoreOf = (i: number) => scores[i] ?? 0;
    const rankOf = (i: number) => (rows[i] as Candidate).rank;
    /** Candidates by score, then by ts_rank: below 0 when `a` comes first. */
    const order = (a: number, b: number) => scoreOf(b) - scoreOf(a) || rankOf(b) - rankOf(a);
    const best = new Map<string, number>();
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Candidate;
      const levels = generation.passages.get(row.id)?.levels;
      if (!levels) continue; // deleted between the queries
      let covered = 0;
      for (const group of groups) {
        let match = 0;
        for (const form of group.forms) {
          const level = levels.get(form.lexeme) ?? 0;
          match = Math.max(match, form.factor * (FIELD_FACTOR[level] ?? 0));
        }
        covered += group.weight * match;
      }
      scores[i] = total > 0 ? covered / total : 0;
      const current = best.get(row.document_id);
      if (current === undefined || order(i, current) < 0) best.set(row.document_id, i);
    }
    const picked: number[] = [];
    for (const i of best.values()) if (scoreOf(i) >= this.options.minScore) picked.push(i);
    picked.sort(order);
    return picked.slice(0, limit).map((i) => {
      const row = rows[i] as Candidate;
      return [row.document_id, { passageId: row.id, score: scoreOf(i), rank: row.rank }];
    });
  }

  private hits(
    generation: Generation,
    top: [string, { passageId: string; score: number; rank: number }][],
  ): KnowledgeHit[] {
    return top.flatMap(([documentId, b]) => {
      const row = generation.passages.get(b.passageId);
      if (!row) return []; // deleted between the queries
      return [
        {
          id: documentId,
          title: row.title,
          url: row.url,
          score: b.score,
          headingPath: row.heading_path,
          text: row.text,
        },
      ];
    });
  }

  /** Title, url, text and lexemes of the candidates' passages not fetched yet in this generation. */
  private async learnPassages(generation: Generation, lists: Candidate[][]): Promise<void> {
    const unknown = new Set<string>();
    for (const list of lists)
      for (const candidate of list) if (!generation.passages.has(candidate.id)) unknown.add(candidate.id);
    if (unknown.size === 0) return;
    const missing = [...unknown];
    const { rows } = await namedQuery<{
      id: string;
      title: string;
      url: string | null;
      heading_path: string;
      text: string;
      search: string;
    }>(
      this.pool,
      `select p.id::text, d.title, d.url, p.heading_path, p.text, p.search::text as search
         from knowledge.passages p join knowledge.documents d on d.id = p.document_id
        where p.id = any($1::bigint[])`,
      [missing],
    );
    if (generation.passages.size + rows.length > MAX_CACHED_PASSAGES) generation.passages.clear();
    for (const { id, search, ...details } of rows)
      generation.passages.set(id, { ...details, levels: lexemeLevels(search) });
  }

  /**
   * Lexemes, trigram corrections (BM25's idf needs each form's passage count) of the words this
   * generation has not seen yet: at most two statements for all queries of a search, none when known.
   */
  private async learnWords(generation: Generation, words: string[]): Promise<boolean> {
    // Runs on every search, mostly with everything known: it allocates only for what is not.
    const missing: string[] = [];
    for (const word of words) if (!generation.words.has(word) && !missing.includes(word)) missing.push(word);
    if (missing.length > 0) {
      const { rows } = await namedQuery<{
        ord: number;
        lexeme: string;
        form: string | null;
        sim: number | null;
      }>(
        this.pool,
        `select w.ord::int as ord, l.lexeme, e.form, e.sim
           from unnest($1::text[]) with ordinality as w(word, ord)
          cross join lateral unnest(tsvector_to_array(to_tsvector('russian', w.word))) as l(lexeme)
           left join lateral (
             select k.lexeme as form, similarity(k.lexeme, l.lexeme)::float8 as sim
               from knowledge.lexemes k
              -- Only words the documents never use are corrected: a known word means what it says.
              where length(l.lexeme) >= 4 and k.lexeme % l.lexeme
                and not exists (select 1 from knowledge.lexemes own where own.lexeme = l.lexeme)
              order by sim desc limit $2) e on true
          order by w.ord`,
        [missing, MAX_EXPANSIONS + 1],
      );
      if (generation.words.size + missing.length > MAX_CACHED) {
        generation.words.clear();
        generation.groups.clear();
      }
      for (const word of missing) generation.words.set(word, []);
      for (const row of rows) generation.words.get(missing[row.ord - 1] ?? '')?.push(row);
    }
    const unknownForms = new Set<string>();
    for (const word of words)
      for (const row of generation.words.get(word) ?? []) {
        if (!generation.df.has(row.lexeme)) unknownForms.add(row.lexeme);
        if (row.form && !generation.df.has(row.form)) unknownForms.add(row.form);
      }
    if (unknownForms.size === 0 && generation.n !== undefined) return missing.length > 0;
    const unknown = [...unknownForms];
    const stats = await namedQuery<{ n: number; df: number[] }>(
      this.pool,
      `select (select count(*)::int from knowledge.passages) as n,
              array(select (select count(*)::int from knowledge.passages p where p.search @@ f::tsquery)
                      from unnest($1::text[]) with ordinality as x(f, o) order by o) as df`,
      [unknown.map(tsLiteral)],
    );
    if (generation.df.size + unknown.length > MAX_CACHED) {
      generation.df.clear();
      generation.groups.clear();
    }
    generation.n = stats.rows[0]?.n ?? 0;
    unknown.forEach((f, i) => generation.df.set(f, stats.rows[0]?.df[i] ?? 0));
    return true;
  }

  /**
   * Each query lexeme with its trigram corrections and an idf weight (BM25's), from the generation.
   * A lexeme's corrections and passage counts depend on nothing else, so its group is made once per
   * generation: words repeat across questions.
   */
  private groups(generation: Generation, words: string[]): Group[] {
    const groups: Group[] = [];
    const seen = new Set<string>();
    for (const word of words)
      for (const row of generation.words.get(word) ?? []) {
        if (seen.has(row.lexeme)) continue;
        seen.add(row.lexeme);
        groups.push(generation.groups.get(row.lexeme) ?? this.group(generation, row.lexeme, word));
      }
    return groups;
  }

  /** A lexeme's forms: itself (factor 1) and its close corrections, those no passage holds left out. */
  private group(generation: Generation, lexeme: string, word: string): Group {
    const factors = new Map<string, number>([[lexeme, 1]]);
    for (const row of generation.words.get(word) ?? [])
      if (
        row.lexeme === lexeme &&
        row.form &&
        row.sim !== null &&
        row.sim >= MIN_SIMILARITY &&
        !factors.has(row.form)
      )
        factors.set(row.form, row.sim);
    const n = generation.n ?? 0;
    const idf = (count: number) => Math.log(1 + (n - count + 0.5) / (count + 0.5));
    const forms: Form[] = [];
    let bestKnown = 0;
    let complete = true;
    for (const [form, factor] of factors) {
      complete &&= generation.df.has(form);
      const df = generation.df.get(form) ?? 0;
      if (df <= 0) continue;
      forms.push({ query: tsLiteral(form), lexeme: form, factor, df });
      bestKnown = Math.max(bestKnown, idf(df));
    }
    const own = generation.df.get(lexeme) ?? 0;
    const group: Group = {
      forms,
      weight: own > 0 ? idf(own) : forms.length > 0 ? bestKnown : UNKNOWN_WORD_SHARE * idf(0),
    };
    // Kept only when every passage count was known (a cache past its bound may have dropped some).
    if (complete && generation.n !== undefined) {
      if (generation.groups.size >= MAX_CACHED) generation.groups.clear();
      generation.groups.set(lexeme, group);
    }
    return group;
  }
}

/** Weight letters of a tsvector position: A title, B headings and tags, C (and D) text. */
const WEIGHT_LEVEL: Record<string, number> = { A: 3, B: 2 };

/**
 * Each lexeme of a tsvector's text form (`'word':1A,5 'other':3B`) with its best field: 3 when
 * any position has weight A, 2 for B, else 1 — what `search @@ 'word':A` etc. would say
 * (lexeme-levels.test.ts holds it to PostgreSQL's answers).
 */
export function lexemeLevels(tsvector: string): Map<string, number> {
  const levels = new Map<string, number>();
  let i = 0;
  while (i < tsvector.length) {
    if (tsvector[i] !== "'") {
      i++;
      continue;
    }
    let lexeme = '';
    for (i++; i < tsvector.length; i++) {
      const c = tsvector[i];
      if (c === '\\') lexeme += tsvector[++i] ?? '';
      else if (c === "'" && tsvector[i + 1] === "'") lexeme += tsvector[i++];
      else if (c === "'") break;
      else lexeme += c;
    }
    i++;
    // Without positions (a stripped vector) a lexeme matches whatever weight is asked for.
    let level = 3;
    if (tsvector[i] === ':') {
      level = 1;
      for (i++; i < tsvector.length && tsvector[i] !== ' '; i++)
        level = Math.max(level, WEIGHT_LEVEL[tsvector[i] ?? ''] ?? 1);
    }
    levels.set(lexeme, level);
  }
  return levels;
}

const SNIPPET_WORDS = 30;

/**
 * The window of the passage with the most query words (compared by their first five letters, which
 * survive Russian inflection), marked **like this**. Computed here: ts_headline costs more than the search.
 */
export function snippet(text: string, words: string[]): string {
  const tokens = text
    .replace(/[#*`|>_]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  const stems = words.filter((w) => w.length >= 3).map((w) => w.slice(0, 5));
  const hits = tokens.map((t) => {
    const lower = t
      .toLowerCase()
      .replaceAll('ё', 'е')
      .replace(/^[^\p{L}\p{N}]+/u, '');
    return stems.some((s) => lower.startsWith(s));
  });
  // The window slides one token at a time: its count changes only by the token leaving and the one entering.
  let count = 0;
  for (let i = 0; i < Math.min(SNIPPET_WORDS, hits.length); i++) if (hits[i]) count++;
  let bestStart = 0;
  let bestCount = count;
  for (let start = 1; start < tokens.length - SNIPPET_WORDS + 1; start++) {
    if (hits[start - 1]) count--;
    if (hits[start + SNIPPET_WORDS - 1]) count++;
    if (count > bestCount) {
      bestCount = count;
      bestStart = start;
    }
  }
  const window = tokens
    .slice(bestStart, bestStart + SNIPPET_WORDS)
    .map((t, i) => (hits[bestStart + i] ? `**${t}**` : t))
    .join(' ');
  return `${bestStart > 0 ? '… ' : ''}${window}${bestStart + SNIPPET_WORDS < tokens.length ? ' …' : ''}`;
}
