import type { RunningService } from '@workemon/http-kit';
import { CapturedLines, createLogger } from '@workemon/logger';
import { type FakeLlm, startFakeLlm } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';
import { BUILT_IN_PROMPT } from '../src/domain/analytics-prompt.js';
import { startService } from '../src/start.js';

describe('system-analyst /prepare-analititcs', () => {
  let llm: FakeLlm;
  let analyst: RunningService;
  let url: string;

  beforeAll(async () => {
    llm = await startFakeLlm();
    const config = configSchema.parse({
      PORT: '0',
      HOST: '127.0.0.1',
      AUTH_DISABLED: 'true',
      LLM_PROVIDER: 'ollama',
      LLM_BASE_URL: llm.url,
      LLM_MODEL: 'llama-test',
      LLM_TIMEOUT_MS: '1000',
      LLM_MAX_RETRIES: '0',
      PROMPT: 'Ты инженер данных в тестовом банке. Отвечай кратко.',
    });
    const logger = createLogger({
      service: 'ai-systemanalitic',
      version: 'test',
      stream: new CapturedLines(),
    });
    analyst = await startService(config, { logger });
    url = analyst.url;
  });
  afterEach(() => llm.reset());
  afterAll(async () => {
    await analyst.close();
    await llm.close();
  });

  const input = {
    context:
      'Младший системный аналитик из клиентского департамента хочет срезы по авторизационным операциям кошельков, домен b2c.',
    request: 'Я хочу получать аналитику о операциях наших кошельков. Меня интересуют операции авторизации',
  };

  it('when the analyst proposes an enum action, then it is returned with the advice', async () => {
    llm.enqueue({
      json: { is_enough: true, response: 'Доработайте куб авторизаций', action: 'создать jira-task' },
    });
    const res = await fetch(`${url}/prepare-analititcs?${new URLSearchParams(input)}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      is_enough: true,
      response: 'Доработайте куб авторизаций',
      action: 'создать jira-task',
      // The configured PROMPT, versioned by its text's hash.
      prompt_version: expect.stringMatching(/^env-[0-9a-f]{10}$/),
    });
  });

  it('when the configured PROMPT is set, then it replaces the built-in one and the JSON format is still required', async () => {
    llm.enqueue({ json: { is_enough: true, response: 'ok' } });
    await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    const system = llm.calls[0]!.messages[0]!.content;
    expect(system).toContain('тестовом банке');
    expect(system).not.toContain(BUILT_IN_PROMPT);
    expect(system).toContain('"action"');
  });

  it('when knowledge passages are passed, then they reach the model with their ids inside the data block, with the grounding rules', async () => {
    llm.enqueue({ json: { is_enough: true, response: 'Смотрите куб авторизаций [authorizations-cube]' } });
    const res = await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...input,
        passages: [
          {
            id: 'authorizations-cube',
            title: 'Куб авторизаций',
            heading: 'Владелец',
            text: 'Владелец — Ирина Ковалёва.',
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const system = llm.calls[0]!.messages[0]!.content;
    const user = llm.calls[0]!.messages.at(-1)!.content;
    expect(system).toContain('База знаний организации');
    expect(system).toContain('не придумывай');
    // The passage sits between the knowledge block's own markers, after the request's block.
    expect(user).toMatch(
      /<<<KNOWLEDGE_\w+\n\[authorizations-cube\] Куб авторизаций › Владелец\nВладелец — Ирина Ковалёва\.\nKNOWLEDGE_\w+>>>/,
    );
  });

  it('when the knowledge base found nothing, then the model is told so and still gets the grounding rules', async () => {
    llm.enqueue({ json: { is_enough: true, response: 'В базе знаний нет сведений' } });
    await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...input, passages: [] }),
    });
    expect(llm.calls[0]!.messages[0]!.content).toContain('База знаний организации');
    expect(llm.calls[0]!.messages.at(-1)!.content).toContain('ничего не найдено');
  });

  it('when no knowledge is passed (an older secretary), then the prompt has no knowledge block', async () => {
    llm.enqueue({ json: { is_enough: true, response: 'ok' } });
    await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    expect(llm.calls[0]!.messages[0]!.content).not.toContain('База знаний организации');
    expect(llm.calls[0]!.messages.at(-1)!.content).not.toContain('KNOWLEDGE_');
  });

  it('when passages are malformed, then 400 names passages', async () => {
    const res = await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...input, passages: 'куб' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain("'passages'");
  });

  it('when the model invents an action outside the enum, then it is dropped', async () => {
    llm.enqueue({ json: { is_enough: true, response: 'Совет', action: 'удалить базу данных' } });
    const body = (await (
      await fetch(`${url}/prepare-analititcs?${new URLSearchParams(input)}`)
    ).json()) as Record<string, unknown>;
    expect(body.response).toBe('Совет');
    expect(body).not.toHaveProperty('action');
  });

  it('when context is missing, then 400 names it', async () => {
    const res = await fetch(`${url}/prepare-analititcs?${new URLSearchParams({ request: 'x' })}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: "Parameter 'context' is required", statusCode: 400 });
  });

  it('when the body is not JSON, then 400 says so', async () => {
    const res = await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"context":',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: 'Request body is not valid JSON' });
  });

  it('when the body is sent as text/plain, then 415 asks for JSON', async () => {
    const res = await fetch(`${url}/prepare-analytics`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify(input),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'Unsupported Media Type', statusCode: 415 });
  });

  it('when /openapi.json is fetched, then both spellings are documented', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/prepare-analititcs', '/prepare-analytics', '/health']),
    );
  });

  it('when LLM calls happen, then llm metrics are exported with provider and model', async () => {
    llm.enqueue({ json: { is_enough: true, response: 'ok' } });
    await fetch(`${url}/prepare-analititcs?${new URLSearchParams(input)}`);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      /llm_request_duration_seconds_count\{[^}]*provider="ollama"[^}]*model="llama-test"[^}]*outcome="success"/,
    );
    expect(metrics).toMatch(/llm_tokens_total\{[^}]*kind="prompt"/);
  });
});
