/**
 * The knowledge base's generation: how many documents it holds, and a version that every change to a
 * document or passage bumps in the same transaction (knowledge.generation, kept by triggers). What a
 * search learnt (words, candidate lists, passages) is kept per generation and dropped when it changes.
 * Aggregated over its one row, so it is always exactly one row and costs the same at any size.
 */
export const KNOWLEDGE_GENERATION_COLUMNS = `coalesce(max(documents), 0)::int as documents, coalesce(max(version), 0)::text as key`;

/** The generation alone, as one row. */
export const KNOWLEDGE_GENERATION = `select ${KNOWLEDGE_GENERATION_COLUMNS} from knowledge.generation`;
