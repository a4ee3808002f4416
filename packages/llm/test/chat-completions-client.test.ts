import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startKeepAlivePeer } from '@workemon/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatCompletionsClient } from '../src/chat-completions-client.js';

describe('ChatCompletionsClient: the SDK-compatible transport', () => {
  let server: Server;
  let baseURL: string;
  const seen: IncomingMessage['headers'][] = [];
  const bodies: string[] = [];
  const replies: ((res: ServerResponse) => void)[] = [];
  const ok = (res: ServerResponse) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ choices: [{ message: { content: '{"ok":true}' } }] }));

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        bodies.push(text);
        seen.push(req.headers);
        (replies.shift() ?? ok)(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

  it('when a burst ends, then its idle connections close within seconds although the provider allows 65 s', async () => {
    const provider = await startKeepAlivePeer({
      body: JSON.stringify({ choices: [{ message: { content: '{"ok":true}' } }] }),
    });
    const client = new ChatCompletionsClient({
      baseURL: `${provider.url}/v1`,
      apiKey: 'k',
      timeoutMs: 2_000,
      maxRetries: 0,
    });
    try {
      await Promise.all(Array.from({ length: 12 }, () => client.create(body)));
      expect(await provider.openConnections()).toBeGreaterThan(1);
      expect(await provider.connectionsAfter(8_000)).toBe(0);
    } finally {
      await client.close();
      await provider.close();
    }
  }, 15_000);

  it('when a provider preset replaces the authorization scheme, then its header wins over the Bearer key', async () => {
    const client = new ChatCompletionsClient({
      baseURL,
      apiKey: 'secret',
      defaultHeaders: { Authorization: 'Api-Key secret', 'x-folder-id': 'b1g' },
      timeoutMs: 2_000,
      maxRetries: 0,
    });
    seen.length = 0;
    await client.create(body);
    expect(seen[0]?.authorization).toBe('Api-Key secret');
    expect(seen[0]?.['x-folder-id']).toBe('b1g');
    await client.close();
  });

  it('when requests repeat the system prompt, then every body is exactly the JSON of its request', async () => {
    const client = new ChatCompletionsClient({ baseURL, apiKey: 'k', timeoutMs: 2_000, maxRetries: 0 });
    const system = 'Ты аналитик. Ответь "JSON" \\ без\nпрозы\u0001';
    const requests = [
      {
        model: 'm',
        messages: [
          { role: 'system' as const, content: system },
          { role: 'user' as const, content: 'a' },
        ],
        temperature: 0.2,
      },
      {
        model: 'm',
        messages: [
          { role: 'system' as const, content: `${system}` },
          { role: 'user' as const, content: 'b' },
        ],
        temperature: 0.2,
        response_format: { type: 'json_object' as const },
      },
      {
        model: 'm',
        messages: [
          { role: 'system' as const, content: 'другой' },
          { role: 'user' as const, content: 'c' },
          { role: 'assistant' as const, content: '{' },
        ],
      },
    ];
    bodies.length = 0;
    for (const request of requests) await client.create(request);
    expect(bodies).toEqual(requests.map((request) => JSON.stringify(request)));
    await client.close();
  });

  it('when the provider answers 503 with retry-after-ms, then the call is retried and succeeds', async () => {
    const client = new ChatCompletionsClient({ baseURL, apiKey: 'k', timeoutMs: 2_000, maxRetries: 1 });
    replies.push((res) => res.writeHead(503, { 'retry-after-ms': '50' }).end('{"error":{"message":"busy"}}'));
    seen.length = 0;
    const answer = await client.create(body);
    expect(answer.choices?.[0]?.message?.content).toBe('{"ok":true}');
    expect(seen).toHaveLength(2);
    await client.close();
  });

  it('when x-should-retry is false on a 500, then there is no retry and the SDK error class is thrown', async () => {
    const client = new ChatCompletionsClient({ baseURL, apiKey: 'k', timeoutMs: 2_000, maxRetries: 2 });
    seen.length = 0;
    replies.push((res) =>
      res.writeHead(500, { 'x-should-retry': 'false' }).end('{"error":{"message":"broken"}}'),
    );
    const error = await client.create(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as Error).message).toContain('broken');
    expect(seen).toHaveLength(1);
    await client.close();
  });
});
