import { metricsOn, type Registry } from '@workemon/http-kit';
import type { KnowledgeMetricsPort } from './domain/knowledge-ports.js';

/**
 * knowledge_search_duration_seconds (every search: API and grounding), knowledge_documents (stored
 * documents, refreshed on every write and sync), knowledge_answer_sources (documents an answer rests on).
 */
export function createKnowledgeMetrics(
  registry: Registry,
): KnowledgeMetricsPort & { answered(sources: number): void } {
  const m = metricsOn(registry);
  const duration = m.histogram(
    'knowledge_search_duration_seconds',
    'Duration of knowledge base searches (API and answer grounding)',
    { buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] },
  );
  const documents = m.gauge('knowledge_documents', 'Documents in the knowledge base');
  const sources = m.histogram(
    'knowledge_answer_sources',
    'Knowledge documents passed to the analyst per answer (0: nothing relevant was found)',
    { buckets: [0, 1, 2, 3, 4, 5, 8] },
  );
  return {
    searched: (seconds) => duration.observe(seconds),
    documents: (count) => documents.set(count),
    answered: (count) => sources.observe(count),
  };
}
