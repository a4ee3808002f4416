import { type ServiceMetrics, UpstreamClient, UpstreamError } from '@workemon/http-kit';
import { z } from 'zod';
import { JiraCallError } from '../domain/jira-call-error.js';
import type { JiraIssueRef, JiraPort } from '../domain/ports.js';

export interface JiraClientOptions {
  baseURL: string;
  /** cloud: GET /rest/api/2/search/jql (the old /search answers 410 there); server: GET /rest/api/2/search. */
  deployment: 'cloud' | 'server';
  /** Cloud: account e-mail for basic auth; unset: the token is sent as a Bearer personal access token. */
  user?: string | undefined;
  apiToken: string;
  projectKey: string;
  issueType: string;
  timeoutMs: number;
  metrics?: ServiceMetrics;
}

const CreatedIssueSchema = z.object({ id: z.string(), key: z.string() });
const SearchResultSchema = z.object({ issues: z.array(z.object({ key: z.string() })) });

/** Jira REST API v2 (Cloud and Server/Data Center accept plain-text descriptions there). */
export class JiraClient implements JiraPort {
  private readonly client: UpstreamClient;
  private readonly browseBase: string;

  constructor(private readonly options: JiraClientOptions) {
    const authorization = options.user
      ? `Basic ${Buffer.from(`${options.user}:${options.apiToken}`).toString('base64')}`
      : `Bearer ${options.apiToken}`;
    this.client = new UpstreamClient({
      target: 'jira',
      baseURL: options.baseURL,
      timeoutMs: options.timeoutMs,
      authorization,
      connections: 8,
      // A remote HTTPS API: a reconnect costs a TLS handshake, so an idle connection is kept longer.
      idleConnectionMs: 30_000,
      metrics: options.metrics,
      describeError: jiraErrorText,
    });
    this.browseBase = options.baseURL.replace(/\/+$/, '');
  }

  async findByLabel(label: string): Promise<JiraIssueRef | undefined> {
    const path = this.options.deployment === 'cloud' ? '/rest/api/2/search/jql' : '/rest/api/2/search';
    const body = await this.call('GET', path, SearchResultSchema, {
      query: { jql: `labels = "${label}"`, fields: 'key', maxResults: '1' },
    });
    const key = body.issues[0]?.key;
    return key ? this.ref(key) : undefined;
  }

  async createIssue(issue: {
    summary: string;
    description: string;
    labels: string[];
  }): Promise<JiraIssueRef> {
    const body = await this.call('POST', '/rest/api/2/issue', CreatedIssueSchema, {
      body: {
        fields: {
          project: { key: this.options.projectKey },
          issuetype: { name: this.options.issueType },
          summary: issue.summary,
          description: issue.description,
          labels: issue.labels,
        },
      },
    });
    return this.ref(body.key);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private ref(key: string): JiraIssueRef {
    return { key, url: `${this.browseBase}/browse/${key}` };
  }

  private async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    extra: { body?: unknown; query?: Record<string, string> },
  ): Promise<z.output<S>> {
    try {
      return await this.client.call({ method, path, schema, ...extra });
    } catch (error) {
      throw toJiraCallError(error, method, path);
    }
  }
}

/** The shared classification (retryable or not), worded for whoever reads the follow-up's error. */
function toJiraCallError(error: unknown, method: string, path: string): JiraCallError {
  if (!(error instanceof UpstreamError)) return new JiraCallError(`Jira call failed: ${String(error)}`, true);
  switch (error.kind) {
    case 'timeout':
    case 'unreachable':
      return new JiraCallError(error.message.replace(/^jira/, 'Jira'), true);
    case 'invalid_response':
      return new JiraCallError(`Jira returned an unexpected body for ${method} ${path}`, true);
    case 'http': {
      const detail = error.detail ?? `HTTP ${error.status}`;
      if (error.status === 401 || error.status === 403)
        return new JiraCallError(
          `Jira rejected the credentials (check JIRA_USER/JIRA_API_TOKEN): ${detail}`,
          false,
        );
      if (error.retryable)
        return new JiraCallError(`Jira answered ${error.status}: ${detail}`, true, error.retryAfterMs);
      // 400/404: the request itself is wrong (project, issue type, a field); a retry cannot fix it.
      return new JiraCallError(`Jira refused the request (${error.status}): ${detail}`, false);
    }
  }
}

/** Jira's error body: {errorMessages: [...], errors: {field: message}}. */
function jiraErrorText(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { errorMessages, errors } = data as { errorMessages?: unknown; errors?: unknown };
  const parts: string[] = [];
  if (Array.isArray(errorMessages))
    parts.push(...errorMessages.filter((m): m is string => typeof m === 'string'));
  if (errors && typeof errors === 'object')
    for (const [field, message] of Object.entries(errors)) parts.push(`${field}: ${String(message)}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}
