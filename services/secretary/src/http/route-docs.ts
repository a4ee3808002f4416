import {
  AnalysisResponseSchema,
  AnalyzeRequestInputSchema,
  HistoryPageSchema,
  HistoryQuerySchema,
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
  ];
}
