import { setTimeout as sleep } from 'node:timers/promises';
import { idleConnectionLimit } from '@workemon/http-kit';
import OpenAI from 'openai';
import { Pool } from 'undici';

/** The part of the OpenAI chat completion answer we read. */
export interface ChatCompletion {
  choices?: { message?: { content?: string | null } }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ChatCompletionRequest {
  model: string;
  messages: OpenAI.Chat.ChatCompletionMessageParam[];
  temperature?: number;
  response_format?: { type: 'json_object' };
}

export interface ChatCompletionsClientOptions {
  baseURL: string;
  apiKey: string;
  defaultHeaders?: Record<string, string>;
  /** Per attempt, as the SDK's `timeout`. */
  timeoutMs: number;
  maxRetries: number;
  connections?: number;
}

/**
 * POST {baseURL}/chat/completions on undici, with the openai SDK's retry semantics (retry on
 * connection errors, timeouts, 408/409/429/5xx or `x-should-retry: true`; wait `retry-after-ms`
 * or `retry-after` when under a minute, else 0.5 s × 2^n up to 8 s with 25 % jitter) and its
 * error classes, so callers map failures exactly as before. The SDK's per-request machinery
 * (option merging, header building, WHATWG fetch and streams) cost the LLM services about as
 * much CPU as everything else they do per request; we send one small JSON body and read one.
 */
export class ChatCompletionsClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: ChatCompletionsClientOptions) {
    const url = new URL(options.baseURL);
    this.path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
    // An idle connection closes after 4 s, whatever the provider's Keep-Alive hint says: a burst's
    // 256 connections were kept 30 s, and the guesser and analyst settled at up to 1.27× and 1.63×
    // their idle RSS instead of 1.15–1.19×. Under load the pool reuses its first free connections, so
    // only the burst's surplus goes; a reconnect (with TLS, a handshake) is paid after a quiet spell.
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 256,
      ...idleConnectionLimit(4_000),
    });
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/json',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    };
    // Provider presets may replace the authorization scheme (Yandex: Api-Key) or add headers.
    for (const [key, value] of Object.entries(options.defaultHeaders ?? {}))
      headers[key.toLowerCase()] = value;
    this.headers = headers;
  }

  async create(body: ChatCompletionRequest, options: { signal?: AbortSignal } = {}): Promise<ChatCompletion> {
    const payload = this.payload(body);
    const { maxRetries } = this.options;
    for (let attempt = 0; ; attempt++) {
      const retriesLeft = maxRetries - attempt;
      let response;
      try {
        response = await this.send(payload, options.signal);
      } catch (error) {
        if (options.signal?.aborted) throw new OpenAI.APIUserAbortError();
        const timedOut = isTimeout(error);
        if (retriesLeft > 0) {
          await this.backoff(attempt, undefined, options.signal);
          continue;
        }
        if (timedOut) throw new OpenAI.APIConnectionTimeoutError();
        throw new OpenAI.APIConnectionError({ cause: error as Error });
      }
      if (response.status < 400) {
        try {
          return JSON.parse(response.text) as ChatCompletion;
        } catch {
          throw new Error(`the LLM answered HTTP ${response.status} with a body that is not JSON`);
        }
      }
      if (retriesLeft > 0 && shouldRetry(response.status, response.headers)) {
        await this.backoff(attempt, response.headers, options.signal);
        continue;
      }
      let errorBody: unknown;
      try {
        errorBody = JSON.parse(response.text);
      } catch {
        errorBody = undefined;
      }
      throw OpenAI.APIError.generate(
        response.status,
        errorBody as object | undefined,
        errorBody === undefined ? response.text : undefined,
        response.headers,
      );
    }
  }

  /**
   * JSON.stringify(body), byte for byte, except that the system message is serialised once per
   * prompt: it is the same ~1,500 characters on every call, and escaping it again cost the LLM
   * services more CPU than the rest of the body.
   */
  private payload(body: ChatCompletionRequest): string {
    let messages = '';
    for (const message of body.messages) messages += `${messages ? ',' : ''}${this.messageJson(message)}`;
    let json = `{"model":${JSON.stringify(body.model)},"messages":[${messages}]`;
    if (body.temperature !== undefined) json += `,"temperature":${JSON.stringify(body.temperature)}`;
    if (body.response_format !== undefined)
      json += `,"response_format":${JSON.stringify(body.response_format)}`;
    return `${json}}`;
  }

  private system: { content: string; json: string } | undefined;

  private messageJson(message: OpenAI.Chat.ChatCompletionMessageParam): string {
    if (message.role !== 'system' || typeof message.content !== 'string') return JSON.stringify(message);
    const keys = Object.keys(message);
    if (keys.length !== 2 || keys[0] !== 'role' || keys[1] !== 'content') return JSON.stringify(message);
    if (this.system?.content !== message.content)
      this.system = { content: message.content, json: JSON.stringify(message) };
    return this.system.json;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private async send(payload: string, signal: AbortSignal | undefined) {
    const response = await this.pool.request({
      method: 'POST',
      path: this.path,
      headers: this.headers,
      body: payload,
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
      ...(signal ? { signal } : {}),
    });
    const text = await response.body.text();
    const headers = new Headers();
    for (const [key, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(key, v);
    }
    return { status: response.statusCode, headers, text };
  }

  private async backoff(attempt: number, headers: Headers | undefined, signal: AbortSignal | undefined) {
    let delayMs = Number.NaN;
    const retryAfterMs = headers?.get('retry-after-ms');
    if (retryAfterMs) delayMs = Number.parseFloat(retryAfterMs);
    const retryAfter = headers?.get('retry-after');
    if (retryAfter && !(delayMs >= 0)) {
      const seconds = Number.parseFloat(retryAfter);
      delayMs = Number.isNaN(seconds) ? Date.parse(retryAfter) - Date.now() : seconds * 1000;
    }
    if (!(delayMs >= 0 && delayMs < 60_000)) {
      const seconds = Math.min(0.5 * 2 ** attempt, 8);
      delayMs = seconds * (1 - Math.random() * 0.25) * 1000;
    }
    try {
      await sleep(delayMs, undefined, signal ? { signal } : undefined);
    } catch {
      throw new OpenAI.APIUserAbortError();
    }
  }
}

function shouldRetry(status: number, headers: Headers): boolean {
  const header = headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}
