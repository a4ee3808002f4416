import { promClient, type Registry } from '@workemon/http-kit';
import type { KnowledgeMetricsPort } from './domain/knowledge-ports.js';

function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/**
 * knowledge_search_duration_seconds (every search: API and grounding), knowledge_documents (stored
 * documents, refreshed on every write and sync), knowledge_answer_sources (documents an answer rests on).
 */
export function createKnowledgeMetrics(
  registry: Registry,
): KnowledgeMetricsPort & { answered(sources: number): void } {
  const duration = reuse(
    registry,
    'knowledge_search_duration_seconds',
    () =>
      new promClient.Histogram({
        name: 'knowledge_search_duration_seconds',
        help: 'Duration of knowledge base searches (API and answer grounding)',
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
  );
  const documents = reuse(
    registry,
    'knowledge_documents',
    () =>
      new promClient.Gauge({
        name: 'knowledge_documents',
        help: 'Documents in the knowledge base',
        registers: [registry],
      }),
  );
  const sources = reuse(
    registry,
    'knowledge_answer_sources',
    () =>
      new promClient.Histogram({
        name: 'knowledge_answer_sources',
        help: 'Knowledge documents passed to the analyst per answer (0: nothing relevant was found)',
        buckets: [0, 1, 2, 3, 4, 5, 8],
        registers: [registry],
      }),
  );
  return {
    searched: (seconds) => duration.observe(seconds),
    documents: (count) => documents.set(count),
    answered: (count) => sources.observe(count),
  };
}
