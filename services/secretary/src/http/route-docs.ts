import {
  AnalysisResponseSchema,
  AnalyzeRequestInputSchema,
  HistoryPageSchema,
  HistoryQuerySchema,
  KnowledgeDocumentInputSchema,
  KnowledgeDocumentPutResultSchema,
  KnowledgeDocumentSchema,
  KnowledgeDocumentsPageSchema,
  KnowledgeDocumentsQuerySchema,
  KnowledgeIdSchema,
  KnowledgeSearchQuerySchema,
  KnowledgeSearchResultSchema,
  UserSchema,
  UsersUpsertSchema,
  z,
} from '@workemon/contracts';
import type { RouteDoc } from '@workemon/http-kit';
import { UsersPageSchema, UsersQuerySchema, UsersUpsertResultSchema } from './users-routes.js';

const ANALYZE_DESCRIPTION =
  'Анализирует входящее обращение и определяет, достаточно ли информации для ответа, какое действие требуется ' +
  'выполнить, и формирует ответ или уточняющий вопрос. A repeated (channel, message_id) from the same username ' +
  'with the same text returns the stored answer; a reuse by another username or with another text is 409.';

export function secretaryRouteDocs(secured: boolean): RouteDoc[] {
  const analyzeStatuses = [400, 409, 413, 500, 502, 503, 504];
  return [
    {
      method: 'get',
      path: '/analyze-request',
      summary: 'Анализ входящего обращения и определение необходимых действий',
      description: ANALYZE_DESCRIPTION,
      input: AnalyzeRequestInputSchema,
      output: AnalysisResponseSchema,
      secured,
      statuses: analyzeStatuses,
    },
    {
      method: 'post',
      path: '/analyze-request',
      summary: 'Анализ обращения (JSON body: long texts do not fit in a URL)',
      description: ANALYZE_DESCRIPTION,
      input: AnalyzeRequestInputSchema,
      output: AnalysisResponseSchema,
      secured,
      statuses: analyzeStatuses,
    },
    {
      method: 'get',
      path: '/history',
      summary: 'Stored exchanges, newest first, filtered by username and channel',
      input: HistoryQuerySchema,
      output: HistoryPageSchema,
      secured,
      statuses: [400, 500],
    },
    {
      method: 'get',
      path: '/users',
      summary: 'User directory, ordered by username',
      input: UsersQuerySchema,
      output: UsersPageSchema,
      secured,
      statuses: [400, 500],
    },
    {
      method: 'put',
      path: '/users',
      summary: 'Insert or replace one user or many (by username)',
      body: UsersUpsertSchema,
      output: UsersUpsertResultSchema,
      secured,
      statuses: [400, 500],
    },
    {
      method: 'post',
      path: '/users',
      summary: 'Insert or replace one user or many (same as PUT)',
      body: UsersUpsertSchema,
      output: UsersUpsertResultSchema,
      secured,
      statuses: [400, 500],
    },
    {
      method: 'get',
      path: '/users/{username}',
      summary: 'One user from the directory',
      params: z.object({ username: z.string().describe('Username as in the directory') }),
      output: UserSchema,
      secured,
      statuses: [404, 500],
    },
    {
      method: 'get',
      path: '/knowledge/search',
      summary:
        'Search the knowledge base: best documents first, one per document, nothing below the relevance floor',
      input: KnowledgeSearchQuerySchema,
      output: KnowledgeSearchResultSchema,
      secured,
      statuses: [400, 500],
    },
    {
      method: 'get',
      path: '/knowledge/documents',
      summary: 'Knowledge documents, ordered by id (without bodies)',
      input: KnowledgeDocumentsQuerySchema,
      output: KnowledgeDocumentsPageSchema,
      secured,
      statuses: [400, 500],
    },
    {
      method: 'get',
      path: '/knowledge/documents/{id}',
      summary: 'One knowledge document with its Markdown body',
      params: knowledgeId,
      output: KnowledgeDocumentSchema,
      secured,
      statuses: [400, 404, 500],
    },
    {
      method: 'put',
      path: '/knowledge/documents/{id}',
      summary:
        'Create (201) or replace (200) a knowledge document; unchanged content is a no-op (outcome: unchanged)',
      params: knowledgeId,
      body: KnowledgeDocumentInputSchema,
      output: KnowledgeDocumentPutResultSchema,
      secured,
      statuses: [400, 413, 500],
    },
    {
      method: 'delete',
      path: '/knowledge/documents/{id}',
      summary: 'Delete a knowledge document (204, no body)',
      params: knowledgeId,
      output: z.object({}),
      secured,
      statuses: [400, 404, 500],
    },
  ];
}

const knowledgeId = z.object({ id: KnowledgeIdSchema });
