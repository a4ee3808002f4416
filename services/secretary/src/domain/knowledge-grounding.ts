import { KNOWLEDGE_PASSAGE_MAX_CHARS, type KnowledgePassage, type Source } from '@workemon/contracts';
import type { KnowledgeGeneration, KnowledgeHit, KnowledgeRetriever } from './knowledge-ports.js';

/** What the analyst is given from the knowledge base, and what the answer will cite. */
export interface Grounding {
  passages: KnowledgePassage[];
  /** Exactly the documents of `passages`, in the same order: the answer never cites anything else. */
  sources: Source[];
}

export interface KnowledgeGroundingPort {
  /**
   * undefined when the knowledge base holds no documents at all: answers are then simply not grounded.
   * `seen`: the generation read with the requester, so a search it fully knows costs no round trip.
   */
  ground(request: string, context: string, seen?: KnowledgeGeneration): Promise<Grounding | undefined>;
}

/** Said in the answer when the knowledge base has nothing relevant: honest, not invented. */
export const NO_KNOWLEDGE_NOTE =
  'В базе знаний не нашлось документов по этому вопросу: ответ не опирается на документацию организации — ' +
  'уточните детали у владельцев систем.';

/**
 * Finds the documents for a request: the request itself and the guesser's reading of it are searched
 * separately (a long paraphrase would dilute the request's own words) and merged, best score first.
 */
export class KnowledgeGrounding implements KnowledgeGroundingPort {
  constructor(
    private readonly retriever: KnowledgeRetriever,
    private readonly maxDocuments: number,
  ) {}

  async ground(request: string, context: string, seen?: KnowledgeGeneration): Promise<Grounding | undefined> {
    // An empty knowledge base is "not set up", not "nothing relevant": no note, no empty sources.
    const found = await this.retriever.searchEach(
      context.trim() ? [request, context] : [request],
      this.maxDocuments,
      seen,
    );
    if (!found) return undefined;
    const [byRequest = [], byContext = []] = found;
    const best = new Map<string, KnowledgeHit>();
    for (const hit of [...byRequest, ...byContext]) {
      const seen = best.get(hit.id);
      if (!seen || hit.score > seen.score) best.set(hit.id, hit);
    }
    const hits = [...best.values()].sort((a, b) => b.score - a.score).slice(0, this.maxDocuments);
    return {
      passages: hits.map((h) => ({
        id: h.id,
        title: h.title,
        ...(h.headingPath ? { heading: h.headingPath.slice(0, 1000) } : {}),
        text: h.text.slice(0, KNOWLEDGE_PASSAGE_MAX_CHARS),
      })),
      sources: hits.map((h) => ({ id: h.id, title: h.title, ...(h.url ? { url: h.url } : {}) })),
    };
  }
}
