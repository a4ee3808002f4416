import { fileURLToPath } from 'node:url';
import type { ServiceMetrics } from '@workemon/http-kit';
import type { Logger } from '@workemon/logger';
import type { Config } from './config.js';
import type { DatabaseHandle } from './data/db.js';
import { KnowledgeRepository } from './data/knowledge-repository.js';
import { LexicalKnowledgeRetriever } from './data/lexical-knowledge-retriever.js';
import type { KnowledgeRetriever, KnowledgeStorePort } from './domain/knowledge-ports.js';
import { KnowledgeUseCases } from './domain/knowledge-use-cases.js';
import { createKnowledgeMetrics } from './knowledge-metrics.js';

/** The example pack shipped with the service (services/secretary/knowledge-pack, same path from src and dist). */
export const EXAMPLE_KNOWLEDGE_DIR = fileURLToPath(new URL('../knowledge-pack', import.meta.url));

export type KnowledgeConfig = Pick<
  Config,
  'KNOWLEDGE_DIR' | 'KNOWLEDGE_MAX_DOCUMENT_CHARS' | 'KNOWLEDGE_MIN_SCORE' | 'KNOWLEDGE_PASSAGES'
>;

export interface Knowledge {
  useCases: KnowledgeUseCases;
  retriever: KnowledgeRetriever;
  store: KnowledgeStorePort;
  /** Observes how many documents each answer rests on. */
  answered(sources: number): void;
  /** The directory the file sync reads: KNOWLEDGE_DIR, or the example pack when unset. */
  directory: string;
}

/** The knowledge base's store, retriever and use cases, wired once (main.ts and tests). */
export function createKnowledge(
  config: KnowledgeConfig,
  database: DatabaseHandle,
  metrics: ServiceMetrics,
  logger: Logger,
): Knowledge {
  const knowledgeMetrics = createKnowledgeMetrics(metrics.registry);
  const retriever = new LexicalKnowledgeRetriever(database.pool, {
    minScore: config.KNOWLEDGE_MIN_SCORE,
    metrics: knowledgeMetrics,
  });
  const store = new KnowledgeRepository(database.pool);
  const useCases = new KnowledgeUseCases({
    store,
    retriever,
    metrics: knowledgeMetrics,
    logger,
    maxDocumentChars: config.KNOWLEDGE_MAX_DOCUMENT_CHARS,
  });
  return {
    useCases,
    retriever,
    store,
    answered: knowledgeMetrics.answered,
    directory: config.KNOWLEDGE_DIR ?? EXAMPLE_KNOWLEDGE_DIR,
  };
}
