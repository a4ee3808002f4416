/**
 * The knowledge base's generation: its documents, their newest change and the newest passage. What a
 * search learnt (words, candidate lists, passages) is kept per generation and dropped when it changes.
 */
const GENERATION_KEY = `count(*) || ':' || coalesce(max(updated_at)::text, '') || ':' ||
  coalesce((select max(id) from knowledge.passages)::text, '')`;

/** Columns `documents` and `key` over knowledge.documents: always exactly one row. */
export const KNOWLEDGE_GENERATION_COLUMNS = `count(*)::int as documents, ${GENERATION_KEY} as key`;

/** The generation alone, as one row. */
export const KNOWLEDGE_GENERATION = `select ${KNOWLEDGE_GENERATION_COLUMNS} from knowledge.documents`;
