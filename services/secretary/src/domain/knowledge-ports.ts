import type { KnowledgeDocument, KnowledgeDocumentSummary } from '@workemon/contracts';

/** One document as the domain writes it: the API and the file sync produce the same shape. */
export interface KnowledgeDocumentDraft {
  id: string;
  title: string;
  body: string;
  tags: string[];
  url: string | null;
}

export type KnowledgeSource = 'api' | 'file';

/** A searchable piece of a document: one section (or part of a long one). */
export interface PassageDraft {
  ordinal: number;
  /** "Раздел › Подраздел"; empty for text before the first heading. */
  headingPath: string;
  text: string;
}

export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface KnowledgeStorePort {
  find(id: string): Promise<KnowledgeDocument | undefined>;
  list(
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: KnowledgeDocumentSummary[]; next_cursor: string | null }>;
  /** Writes the document and replaces its passages in one transaction; same hash and source: nothing is written. */
  upsert(
    document: KnowledgeDocumentDraft & { contentHash: string },
    source: KnowledgeSource,
    passages: PassageDraft[],
  ): Promise<UpsertOutcome>;
  delete(id: string): Promise<boolean>;
  /** id, hash and source of every stored document (the file sync compares against them). */
  index(): Promise<{ id: string; contentHash: string; source: KnowledgeSource }[]>;
  count(): Promise<number>;
}

/** The document a search found, with its best passage. */
export interface KnowledgeHit {
  id: string;
  title: string;
  url: string | null;
  /** 0..1: the share of the query's meaning the best passage covers (see lexical-knowledge-retriever.ts). */
  score: number;
  headingPath: string;
  text: string;
}

/** A hit as `/knowledge/search` shows it: with the window of its passage that has the most query words. */
export interface KnowledgeSearchHit extends KnowledgeHit {
  snippet: string;
}

/**
 * Finds the documents that answer a question, best first, one per document, nothing below the
 * relevance floor. Lexical today (full-text + trigrams); an embeddings retriever can implement it later.
 */
export interface KnowledgeRetriever {
  search(query: string, limit: number): Promise<KnowledgeSearchHit[]>;
  /**
   * Several queries against one look at the knowledge base, hits per query in order; undefined when
   * it holds no documents at all (not set up, as opposed to nothing relevant). `seen`: the generation
   * the caller read moments ago (with the requester); a search that knows everything about it asks
   * the database nothing. No snippets: an answer gives the analyst whole passages.
   */
  searchEach(
    queries: string[],
    limit: number,
    seen?: KnowledgeGeneration,
  ): Promise<KnowledgeHit[][] | undefined>;
}

/** The knowledge base as of a read: a key that changes with every write, and how many documents it holds. */
export interface KnowledgeGeneration {
  documents: number;
  key: string;
}

export interface KnowledgeMetricsPort {
  searched(seconds: number): void;
  documents(count: number): void;
}
