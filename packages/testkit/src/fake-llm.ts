import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One chat.completions request as the fake received it. */
export interface RecordedLlmCall {
  model: string;
  messages: { role: string; content: string }[];
  responseFormat?: unknown;
  authorization?: string;
  headers: http.IncomingHttpHeaders;
  at: number;
}

/** What the fake does with one request. */
export type FakeLlmReply =
  /** A normal completion whose message content is JSON.stringify(json) (or `content` verbatim). */
  | { json: unknown; delayMs?: number; usage?: { prompt_tokens: number; completion_tokens: number } }
  | { content: string; delayMs?: number }
  /** An HTTP error with the provider's error envelope. */
  | { status: number; message?: string; retryAfterSeconds?: number; delayMs?: number }
  /** An HTTP error whose body is not the provider's envelope (a proxy's HTML page, ANSI-coloured text). */
  | { status: number; rawBody: string; contentType?: string; delayMs?: number }
  /** Never answers (the client must time out). */
  | { hang: true }
  /** 200 with a body that is not JSON at all. */
  | { malformedBody: true };

export type FakeLlmResponder = (call: RecordedLlmCall) => FakeLlmReply;

export interface FakeLlm {
  /** OpenAI-style base URL, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  port: number;
  calls: RecordedLlmCall[];
  /** Replies used in order before falling back to the responder. */
  enqueue(...replies: FakeLlmReply[]): void;
  /** Replaces the fallback responder. */
  respondWith(responder: FakeLlmResponder): void;
  /** Adds latency to every fallback reply (benchmarks use 0 and 200 ms). */
  setDelay(ms: number): void;
  reset(): void;
  close(): Promise<void>;
}

/** The system prompt decides who is calling: the guesser or the analyst. */
export const defaultFakeResponder: FakeLlmResponder = (call) => {
  const system = call.messages.find((m) => m.role === 'system')?.content ?? '';
  const user = call.messages.filter((m) => m.role === 'user').at(-1)?.content ?? '';
  if (/инженер данных|engineer/i.test(system)) {
    return {
      json: {
        is_enough: true,
        response: `Рекомендация: обратитесь к аналитическому кубу. (${user.length} символов запроса)`,
        action: 'ответить сообщением',
      },
    };
  }
  return { json: { is_enough: true, response: 'Контекст понятен: домен b2c, операции кошельков.' } };
};

export interface StartFakeLlmOptions {
  /** Reject requests without this bearer key with 401, like a real provider. */
  apiKey?: string;
  responder?: FakeLlmResponder;
  delayMs?: number;
}

/** A fake OpenAI-compatible server (POST /v1/chat/completions, GET /v1/models) on 127.0.0.1. */
/** The LLM variables that point a guesser or analyst at this fake (an OpenAI-compatible `custom` provider). */
export function fakeLlmEnv(llm: { url: string }, apiKey = 'x'): Record<string, string> {
  return { LLM_PROVIDER: 'custom', LLM_BASE_URL: llm.url, LLM_API_KEY: apiKey, LLM_MODEL: 'fake-model' };
}

export async function startFakeLlm(options: StartFakeLlmOptions = {}): Promise<FakeLlm> {
  const calls: RecordedLlmCall[] = [];
  const queue: FakeLlmReply[] = [];
  let responder = options.responder ?? defaultFakeResponder;
  let delayMs = options.delayMs ?? 0;
  const hanging = new Set<http.ServerResponse>();

  const sendJson = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        sendJson(res, 401, {
          error: {
            message: 'Incorrect API key provided',
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        });
        return;
      }
      if (req.method === 'GET' && path.endsWith('/models')) {
        sendJson(res, 200, {
          object: 'list',
          data: [{ id: 'fake-model', object: 'model', owned_by: 'workemon-testkit' }],
        });
        return;
      }
      if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
        sendJson(res, 404, { error: { message: `Unknown path ${path}`, type: 'invalid_request_error' } });
        return;
      }
      let body: { model?: string; messages?: { role: string; content: string }[]; response_format?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        sendJson(res, 400, { error: { message: 'Invalid JSON body', type: 'invalid_request_error' } });
        return;
      }
      const call: RecordedLlmCall = {
        model: body.model ?? '',
        messages: body.messages ?? [],
        responseFormat: body.response_format,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        headers: req.headers,
        at: Date.now(),
      };
      calls.push(call);
      const queued = queue.shift();
      const reply = queued ?? responder(call);
      const delay =
        ('delayMs' in reply && reply.delayMs !== undefined ? reply.delayMs : undefined) ??
        (queued ? 0 : delayMs);
      const answer = () => {
        if (res.destroyed) return;
        if ('hang' in reply) {
          hanging.add(res);
          res.on('close', () => hanging.delete(res));
          return;
        }
        if ('malformedBody' in reply) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"id": "chatcmpl-broken", "choices": [ this is not json');
          return;
        }
        if ('rawBody' in reply) {
          res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/html; charset=utf-8' });
          res.end(reply.rawBody);
          return;
        }
        if ('status' in reply) {
          const headers: Record<string, string> = {};
          if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
          sendJson(
            res,
            reply.status,
            {
              error: {
                message:
                  ('message' in reply ? reply.message : undefined) ?? `Fake upstream error ${reply.status}`,
                type: reply.status === 429 ? 'rate_limit_exceeded' : 'server_error',
              },
            },
            headers,
          );
          return;
        }
        const content = 'json' in reply ? JSON.stringify(reply.json) : reply.content;
        const promptTokens =
          'usage' in reply && reply.usage
            ? reply.usage.prompt_tokens
            : Math.ceil(call.messages.reduce((n, m) => n + m.content.length, 0) / 4);
        const completionTokens =
          'usage' in reply && reply.usage ? reply.usage.completion_tokens : Math.ceil(content.length / 4);
        sendJson(res, 200, {
          id: `chatcmpl-${randomUUID()}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: call.model || 'fake-model',
          choices: [
            { index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null },
          ],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
          },
        });
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    calls,
    enqueue: (...replies) => queue.push(...replies),
    respondWith: (r) => {
      responder = r;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    reset: () => {
      calls.length = 0;
      queue.length = 0;
      responder = options.responder ?? defaultFakeResponder;
      delayMs = options.delayMs ?? 0;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
