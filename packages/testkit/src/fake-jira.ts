import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeJiraIssue {
  id: string;
  key: string;
  fields: {
    project: { key: string };
    summary: string;
    description?: string;
    issuetype: { name: string };
    labels: string[];
  };
  createdAt: number;
}

export type FakeJiraFailure =
  | { kind: 'status'; status: number; retryAfterSeconds?: number }
  /** Accepts the request and never answers (a client timeout must end it). */
  | { kind: 'hang' }
  /** 200 with a body that is not JSON. */
  | { kind: 'garbage' }
  /** Creates the issue, then drops the connection before answering (the caller cannot know it exists). */
  | { kind: 'create-then-drop' };

export interface FakeJira {
  url: string;
  port: number;
  issues: FakeJiraIssue[];
  /** Every request as "METHOD /path" in arrival order. */
  calls: string[];
  /** The next `count` calls of `route` ("create" | "search") fail this way. */
  failNext(route: 'create' | 'search', count: number, failure: FakeJiraFailure): void;
  close(): Promise<void>;
}

export interface StartFakeJiraOptions {
  /** Jira Cloud: basic auth with email + API token. */
  user?: string;
  apiToken?: string;
  projects?: string[];
  issueTypes?: string[];
  /** A fixed port (a test that starts Jira "again" where a client already points); 0 = any free one. */
  port?: number;
}

/**
 * Jira REST API v2 on 127.0.0.1: POST /rest/api/2/issue and the issue search
 * (Cloud's GET /rest/api/2/search/jql and Server's GET /rest/api/2/search) for
 * `labels = "…"` queries, with Jira's error bodies ({errorMessages, errors}),
 * 401 for bad credentials, and scripted 429/5xx/hang/garbage failures.
 */
export async function startFakeJira(options: StartFakeJiraOptions = {}): Promise<FakeJira> {
  const user = options.user ?? 'bot@example.com';
  const apiToken = options.apiToken ?? 'jira-test-token';
  const projects = new Set(options.projects ?? ['SUP']);
  const issueTypes = new Set(options.issueTypes ?? ['Task', 'Bug']);
  const expectedAuth = `Basic ${Buffer.from(`${user}:${apiToken}`).toString('base64')}`;
  const issues: FakeJiraIssue[] = [];
  const calls: string[] = [];
  const failures: Record<'create' | 'search', { count: number; failure: FakeJiraFailure }[]> = {
    create: [],
    search: [],
  };
  const hanging = new Set<http.ServerResponse>();
  let nextId = 10000;
  const counters = new Map<string, number>();

  const send = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: http.OutgoingHttpHeaders = {},
  ) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };
  const jiraError = (
    res: http.ServerResponse,
    status: number,
    errorMessages: string[],
    errors: Record<string, string> = {},
    headers: http.OutgoingHttpHeaders = {},
  ) => send(res, status, { errorMessages, errors }, headers);

  const takeFailure = (route: 'create' | 'search'): FakeJiraFailure | undefined => {
    const queue = failures[route];
    const head = queue[0];
    if (!head) return undefined;
    head.count -= 1;
    if (head.count <= 0) queue.shift();
    return head.failure;
  };

  /** Applies a scripted failure; true when the response is taken care of. */
  const fail = (failure: FakeJiraFailure | undefined, res: http.ServerResponse): boolean => {
    if (!failure || failure.kind === 'create-then-drop') return false;
    switch (failure.kind) {
      case 'status':
        if (failure.status === 429)
          jiraError(
            res,
            429,
            ['Rate limit exceeded.'],
            {},
            { 'retry-after': String(failure.retryAfterSeconds ?? 1) },
          );
        else jiraError(res, failure.status, [`Internal server error (fake ${failure.status})`]);
        return true;
      case 'hang':
        hanging.add(res);
        return true;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html><body>Atlassian proxy error</body></html>');
        return true;
    }
  };

  const search = (url: URL, res: http.ServerResponse, cloud: boolean) => {
    const jql = url.searchParams.get('jql') ?? '';
    const match = /^\s*labels\s*=\s*"([^"]+)"\s*$/.exec(jql);
    if (!match) {
      jiraError(res, 400, [`Error in the JQL Query: the fake understands only labels = "…" (got ${jql})`]);
      return;
    }
    const label = match[1];
    const found = issues
      .filter((i) => i.fields.labels.includes(label ?? ''))
      .map((i) => ({ id: i.id, key: i.key, self: `${baseUrl}/rest/api/2/issue/${i.id}` }));
    const maxResults = Number(url.searchParams.get('maxResults') ?? 50);
    const page = found.slice(0, maxResults);
    if (cloud) send(res, 200, { issues: page, isLast: page.length === found.length });
    else send(res, 200, { startAt: 0, maxResults, total: found.length, issues: page });
  };

  const create = (body: unknown, res: http.ServerResponse): FakeJiraIssue | undefined => {
    const fields = (body as { fields?: Record<string, unknown> } | null)?.fields;
    if (!fields || typeof fields !== 'object') {
      jiraError(res, 400, ['Field "fields" is required.']);
      return undefined;
    }
    const errors: Record<string, string> = {};
    const projectKey = (fields.project as { key?: unknown } | undefined)?.key;
    const issueType = (fields.issuetype as { name?: unknown } | undefined)?.name;
    const summary = fields.summary;
    if (typeof projectKey !== 'string' || !projects.has(projectKey))
      errors.project = 'valid project is required';
    if (typeof issueType !== 'string' || !issueTypes.has(issueType))
      errors.issuetype = 'Specify a valid issue type';
    if (typeof summary !== 'string' || summary.trim() === '')
      errors.summary = 'You must specify a summary of the issue.';
    else if (summary.length > 255) errors.summary = 'Summary must be less than 255 characters.';
    else if (/[\r\n]/.test(summary))
      errors.summary = 'The summary is invalid because it contains newline characters.';
    const labels = Array.isArray(fields.labels) ? fields.labels : [];
    if (labels.some((l) => typeof l !== 'string' || /\s/.test(l) || l.length > 255))
      errors.labels = 'The label cannot contain spaces.';
    if (fields.description !== undefined && typeof fields.description !== 'string')
      errors.description = 'Operation value must be a string';
    if (Object.keys(errors).length > 0) {
      jiraError(res, 400, [], errors);
      return undefined;
    }
    const key = String(projectKey);
    const n = (counters.get(key) ?? 0) + 1;
    counters.set(key, n);
    const issue: FakeJiraIssue = {
      id: String(nextId++),
      key: `${key}-${n}`,
      fields: {
        project: { key },
        summary: String(summary),
        ...(typeof fields.description === 'string' ? { description: fields.description } : {}),
        issuetype: { name: String(issueType) },
        labels: labels as string[],
      },
      createdAt: Date.now(),
    };
    issues.push(issue);
    return issue;
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    calls.push(`${req.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Cloud: basic auth with e-mail + API token; Server/DC: the token as a Bearer PAT.
      if (req.headers.authorization !== expectedAuth && req.headers.authorization !== `Bearer ${apiToken}`) {
        // Jira answers 401 with an error body (and no WWW-Authenticate challenge for API tokens).
        jiraError(res, 401, [
          'You are not authenticated. Authentication required to perform this operation.',
        ]);
        return;
      }
      if (
        req.method === 'GET' &&
        (url.pathname === '/rest/api/2/search/jql' || url.pathname === '/rest/api/2/search')
      ) {
        if (fail(takeFailure('search'), res)) return;
        search(url, res, url.pathname.endsWith('/jql'));
        return;
      }
      if (req.method === 'POST' && url.pathname === '/rest/api/2/issue') {
        const failure = takeFailure('create');
        if (fail(failure, res)) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          jiraError(res, 400, ['Unexpected character: the request body is not JSON.']);
          return;
        }
        const issue = create(body, res);
        if (!issue) return;
        if (failure?.kind === 'create-then-drop') {
          res.socket?.destroy();
          return;
        }
        send(res, 201, { id: issue.id, key: issue.key, self: `${baseUrl}/rest/api/2/issue/${issue.id}` });
        return;
      }
      jiraError(res, 404, ['Not found.']);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    port,
    issues,
    calls,
    failNext: (route, count, failure) => failures[route].push({ count, failure }),
    close: async () => {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
