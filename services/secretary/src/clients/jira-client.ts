import { ServiceClient, type ServiceMetrics } from '@workemon/http-kit';
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
  private readonly client: ServiceClient;
  private readonly browseBase: string;

  constructor(private readonly options: JiraClientOptions) {
    const authorization = options.user
      ? `Basic ${Buffer.from(`${options.user}:${options.apiToken}`).toString('base64')}`
      : `Bearer ${options.apiToken}`;
    this.client = new ServiceClient({
      target: 'jira',
      baseURL: options.baseURL,
      timeoutMs: options.timeoutMs,
      authorization,
      maxSockets: 8,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    this.browseBase = options.baseURL.replace(/\/+$/, '');
  }

  async findByLabel(label: string): Promise<JiraIssueRef | undefined> {
    const path = this.options.deployment === 'cloud' ? '/rest/api/2/search/jql' : '/rest/api/2/search';
    const body = await this.call('GET', path, SearchResultSchema, {
      params: { jql: `labels = "${label}"`, fields: 'key', maxResults: '1' },
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
      data: {
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

  close(): void {
    this.client.close();
  }

  private ref(key: string): JiraIssueRef {
    return { key, url: `${this.browseBase}/browse/${key}` };
  }

  private async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    extra: { data?: unknown; params?: Record<string, string> },
  ): Promise<z.output<S>> {
    const started = performance.now();
    let outcome = 'success';
    try {
      let response;
      try {
        response = await this.client.http.request({ method, url: path, ...extra });
      } catch (error) {
        const code = (error as { code?: string }).code;
        outcome = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timeout' : 'unreachable';
        throw new JiraCallError(
          outcome === 'timeout'
            ? `Jira did not answer within ${this.options.timeoutMs} ms`
            : `Jira is unreachable at ${this.options.baseURL} (${code ?? (error as Error).message})`,
          true,
        );
      }
      if (response.status >= 400) {
        outcome = `http_${response.status}`;
        const detail = jiraErrorText(response.data) ?? `HTTP ${response.status}`;
        const retryAfter = Number(response.headers['retry-after']);
        const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
        if (response.status === 401 || response.status === 403)
          throw new JiraCallError(
            `Jira rejected the credentials (check JIRA_USER/JIRA_API_TOKEN): ${detail}`,
            false,
          );
        if (response.status === 429 || response.status >= 500)
          throw new JiraCallError(`Jira answered ${response.status}: ${detail}`, true, retryAfterMs);
        // 400/404: the request itself is wrong (project, issue type, a field); a retry cannot fix it.
        throw new JiraCallError(`Jira refused the request (${response.status}): ${detail}`, false);
      }
      const parsed = schema.safeParse(response.data);
      if (!parsed.success) {
        outcome = 'invalid_response';
        throw new JiraCallError(`Jira returned an unexpected body for ${method} ${path}`, true);
      }
      return parsed.data;
    } finally {
      this.options.metrics?.upstreamDuration.observe(
        { target: 'jira', outcome },
        (performance.now() - started) / 1000,
      );
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
