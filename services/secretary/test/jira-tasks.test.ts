import { loadConfig } from '@workemon/config';
import { type FakeJira, freePort, startFakeJira, waitFor } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';
import { analystAnswer } from './support/fake-upstream.js';
import {
  type RunningSecretary,
  type SecretaryHarness,
  startSecretary,
  startSecretaryHarness,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

const JIRA_USER = 'workemon@example.com';
const JIRA_TOKEN = 'jira-api-token-for-tests';
const FAST = { retryBaseMs: 100, maxRetryDelayMs: 500, sweepIntervalMs: 200, leaseMs: 2_000 };

const jiraEnv = (url: string, extra: Record<string, string> = {}, pat = false) => ({
  JIRA_BASE_URL: url,
  ...(pat ? {} : { JIRA_USER }),
  JIRA_API_TOKEN: JIRA_TOKEN,
  JIRA_PROJECT_KEY: 'SUP',
  JIRA_TIMEOUT_MS: '1000',
  ...extra,
});

interface JiraIssueView {
  status: 'pending' | 'done' | 'failed';
  key: string | null;
  url: string | null;
  error: string | null;
}

/** The `jira_issue` of a person's latest exchange, as support staff see it in /history. */
async function jiraIssueOf(secretary: RunningSecretary, username: string): Promise<JiraIssueView | null> {
  const page = await secretary.call(`/history?username=${username}`);
  const first = (page.body.items as { jira_issue?: JiraIssueView | null }[])[0];
  return first?.jira_issue ?? null;
}

function waitForJiraIssue(
  secretary: RunningSecretary,
  username: string,
  until: (issue: JiraIssueView) => boolean,
  timeoutMs = 5_000,
): Promise<JiraIssueView> {
  return waitFor(async () => {
    const issue = await jiraIssueOf(secretary, username);
    return issue && until(issue) ? issue : undefined;
  }, timeoutMs);
}

const isDone = (issue: JiraIssueView) => issue.status === 'done';

describe('`создать jira-task` files a Jira issue', () => {
  let jira: FakeJira;
  let harness: SecretaryHarness;

  beforeAll(async () => {
    jira = await startFakeJira({ user: JIRA_USER, apiToken: JIRA_TOKEN });
    harness = await startSecretaryHarness({
      databasePrefix: 'secretary_jira',
      env: { API_KEYS: 'jira-test-api-key', ...jiraEnv(jira.url) },
      followUps: FAST,
    });
  });
  afterEach(() => harness.reset());
  afterAll(async () => {
    await harness?.close();
    await jira?.close();
  });

  const proposeJira = (text = 'Заведём задачу на доработку отчёта') =>
    harness.analyst.setDefault(() => analystAnswer(text, 'создать jira-task'));

  const issuesLabelled = (label: string) => jira.issues.filter((i) => i.fields.labels.includes(label));

  it('when the analyst proposes it, then the person gets the answer and exactly one issue is filed, also when the message is replayed', async () => {
    proposeJira();
    const username = uniqueUsername('jira');
    const params = {
      channel: 'email',
      username,
      request: 'Отчёт по продажам считает НДС дважды\nПодробности ниже: ...',
      message_id: uniqueMessageId(),
    };
    const answer = await harness.secretary.analyze(params);
    expect(answer.status).toBe(200);
    expect(answer.body.action).toBe('создать jira-task');

    const filed = await waitForJiraIssue(harness.secretary, username, isDone);
    const issue = jira.issues.find((i) => i.key === filed.key)!;
    expect(issue.fields.project.key).toBe('SUP');
    expect(issue.fields.issuetype.name).toBe('Task');
    // The summary is the first line only: Jira refuses line breaks there.
    expect(issue.fields.summary).toBe(`${username}: Отчёт по продажам считает НДС дважды`);
    expect(issue.fields.description).toContain('Подробности ниже');
    expect(issue.fields.description).toContain('Заведём задачу на доработку отчёта');
    expect(issue.fields.labels).toContain('workemon');
    expect(filed).toMatchObject({ url: `${jira.url}/browse/${issue.key}`, error: null });

    const replay = await harness.secretary.analyze(params);
    expect(replay.body.replayed).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    const label = issue.fields.labels.find((l) => l.startsWith('workemon-'))!;
    expect(issuesLabelled(label)).toHaveLength(1);

    const metrics = await harness.secretary.call('/metrics');
    expect(String(metrics.body.raw)).toMatch(
      /follow_ups_total\{kind="jira-task",outcome="created"[^}]*\} [1-9]/,
    );
    expect(String(metrics.body.raw)).toMatch(/follow_ups_pending\{kind="jira-task"[^}]*\} 0/);
  });

  it('when Jira answers 429 with Retry-After and then 503, then the issue is filed once after the retries', async () => {
    proposeJira();
    jira.failNext('create', 1, { kind: 'status', status: 429, retryAfterSeconds: 1 });
    jira.failNext('create', 1, { kind: 'status', status: 503 });
    const username = uniqueUsername('jira429');
    const started = Date.now();
    const answer = await harness.secretary.analyze({ channel: 'tg', username, request: 'Сломался дашборд' });
    expect(answer.status).toBe(200);
    const { key } = await waitForJiraIssue(harness.secretary, username, isDone, 8_000);
    // Retry-After: 1 was honoured before the second attempt.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(jira.issues.filter((i) => i.fields.summary.includes(username))).toHaveLength(1);
    expect(key).toMatch(/^SUP-\d+$/);
  });

  it('when Jira files the issue but the connection drops before the answer, then the retry finds it by label and files no second one', async () => {
    proposeJira();
    jira.failNext('create', 1, { kind: 'create-then-drop' });
    const username = uniqueUsername('jiradrop');
    await harness.secretary.analyze({ channel: 'direct', username, request: 'Нет доступа к выгрузке' });
    const filed = await waitForJiraIssue(harness.secretary, username, isDone);
    const mine = jira.issues.filter((i) => i.fields.summary.includes(username));
    expect(mine).toHaveLength(1);
    expect(filed.key).toBe(mine[0]!.key);
    expect(jira.calls).toContain('GET /rest/api/2/search/jql');
  });

  it('when Jira hangs and then answers garbage, then the worker times out, retries and files the issue', async () => {
    proposeJira();
    jira.failNext('create', 1, { kind: 'hang' });
    jira.failNext('search', 1, { kind: 'garbage' });
    const username = uniqueUsername('jirahang');
    const answer = await harness.secretary.analyze({
      channel: 'direct',
      username,
      request: 'Медленный отчёт',
    });
    // The person's answer never waits for Jira: it is back while the issue is still being filed.
    expect(answer.status).toBe(200);
    expect((await jiraIssueOf(harness.secretary, username))?.status).toBe('pending');
    await waitForJiraIssue(harness.secretary, username, isDone, 8_000);
    expect(jira.issues.filter((i) => i.fields.summary.includes(username))).toHaveLength(1);
  });

  it('when the action is another one, then no issue is filed', async () => {
    harness.analyst.setDefault(() => analystAnswer('Вот ответ', 'ответить сообщением'));
    const username = uniqueUsername('nojira');
    const before = jira.issues.length;
    await harness.secretary.analyze({ channel: 'tg', username, request: 'Как выгрузить отчёт?' });
    await new Promise((r) => setTimeout(r, 300));
    expect(jira.issues.length).toBe(before);
    expect(await jiraIssueOf(harness.secretary, username)).toBeNull();
  });
});

describe('Jira failures that a retry cannot fix, and durability across a restart', () => {
  it('when Jira rejects the credentials, then the follow-up fails at once with the reason, /health shows jira degraded, and the person is still answered', async () => {
    const jira = await startFakeJira({ user: JIRA_USER, apiToken: 'the-real-token' });
    const harness = await startSecretaryHarness({
      databasePrefix: 'secretary_jira_auth',
      env: jiraEnv(jira.url),
      followUps: FAST,
    });
    try {
      harness.analyst.setDefault(() => analystAnswer('Нужна задача', 'создать jira-task'));
      const username = uniqueUsername('jira401');
      const answer = await harness.secretary.analyze({
        channel: 'direct',
        username,
        request: 'Ошибка в кубе',
      });
      expect(answer.status).toBe(200);
      const failed = await waitForJiraIssue(harness.secretary, username, (i) => i.status === 'failed');
      expect(failed.error).toMatch(/JIRA_USER\/JIRA_API_TOKEN/);
      expect(jira.calls.filter((c) => c === 'POST /rest/api/2/issue')).toHaveLength(1);
      const health = await harness.secretary.call('/health');
      expect(health.body.checks).toMatchObject({ jira: { status: 'degraded' } });
      expect(health.body.status).toBe('degraded');
    } finally {
      await harness.close();
      await jira.close();
    }
  });

  it('when Jira is down while the exchange is stored and the secretary restarts, then the new process files the stored issue (server deployment, PAT)', async () => {
    const jiraPort = await freePort();
    const harness = await startSecretaryHarness({
      databasePrefix: 'secretary_jira_restart',
      env: jiraEnv(`http://127.0.0.1:${jiraPort}`, { JIRA_DEPLOYMENT: 'server' }, true),
      followUps: { ...FAST, retryBaseMs: 200 },
    });
    let second: Awaited<ReturnType<typeof startSecretary>> | undefined;
    const jiraLater = { current: undefined as FakeJira | undefined };
    try {
      harness.analyst.setDefault(() => analystAnswer('Нужна задача', 'создать jira-task'));
      const username = uniqueUsername('jirarestart');
      const answer = await harness.secretary.analyze({ channel: 'direct', username, request: 'Упал ETL' });
      expect(answer.status).toBe(200);
      await waitForJiraIssue(harness.secretary, username, (i) => Boolean(i.error?.includes('unreachable')));
      await harness.secretary.close();

      // Jira comes back on its address; a new secretary process finds the stored follow-up.
      jiraLater.current = await startFakeJiraOn(jiraPort);
      second = await startSecretary({
        databaseUrl: harness.db.url,
        guesserUrl: harness.guesser.url,
        analystUrl: harness.analyst.url,
        env: jiraEnv(`http://127.0.0.1:${jiraPort}`, { JIRA_DEPLOYMENT: 'server' }, true),
        followUps: FAST,
      });
      const filed = await waitForJiraIssue(second, username, isDone, 8_000);
      expect(jiraLater.current.issues).toHaveLength(1);
      expect(filed.key).toBe('SUP-1');
      // Not the first attempt: it looked for an earlier one with Server's search endpoint first.
      expect(jiraLater.current.calls[0]).toBe('GET /rest/api/2/search');
    } finally {
      await second?.close();
      await harness.guesser.close();
      await harness.analyst.close();
      await harness.db.drop();
      await jiraLater.current?.close();
    }
  });

  it('when JIRA_BASE_URL is set without a project key, then the configuration error names JIRA_PROJECT_KEY', () => {
    expect(() =>
      loadConfig(configSchema, {
        DATABASE_URL: 'postgres://127.0.0.1/test',
        JIRA_BASE_URL: 'https://example.atlassian.net',
        JIRA_API_TOKEN: 'x',
      }),
    ).toThrow(/JIRA_PROJECT_KEY/);
    expect(() =>
      loadConfig(configSchema, { DATABASE_URL: 'postgres://127.0.0.1/test', JIRA_PROJECT_KEY: 'sup' }),
    ).toThrow(/JIRA_PROJECT_KEY/);
  });
});

describe('DEPARTMENT_MAILING_LISTS', () => {
  it('when it is not a JSON object of e-mail addresses, then the configuration error names it', () => {
    const load = (value: string) =>
      loadConfig(configSchema, {
        DATABASE_URL: 'postgres://127.0.0.1/test',
        SERVICE_TOKEN: 'department-lists-token-0123',
        DEPARTMENT_MAILING_LISTS: value,
      });
    expect(() => load('Финансы=finance@corp.example')).toThrow(/DEPARTMENT_MAILING_LISTS/);
    expect(() => load('{"Финансы": "not-an-address"}')).toThrow(/DEPARTMENT_MAILING_LISTS/);
    expect(load('{"Финансы": "finance@corp.example"}').DEPARTMENT_MAILING_LISTS).toEqual({
      Финансы: 'finance@corp.example',
    });
  });
});

/** The fake on a fixed port (the one the first secretary was told about). */
async function startFakeJiraOn(port: number): Promise<FakeJira> {
  return startFakeJira({ user: JIRA_USER, apiToken: JIRA_TOKEN, port });
}
