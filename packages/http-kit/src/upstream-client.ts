import { currentRequestId } from '@workemon/logger';
import { type Dispatcher, Pool } from 'undici';
import type { z } from 'zod';
import type { ServiceMetrics } from './metrics.js';

export interface UpstreamClientOptions {
  /** Label for metrics and error messages, e.g. "guesser". */
  target: string;
  baseURL: string;
  timeoutMs: number;
  /** Sent as `Authorization: Bearer …` (calls between our services). */
  serviceToken?: string | undefined;
  /** A full Authorization header for a non-mesh API (e.g. Basic for Jira); wins over serviceToken. */
  authorization?: string | undefined;
  metrics?: Pick<ServiceMetrics, 'upstreamDuration'> | undefined;
  /** Keep-alive connections to the peer; a call beyond them waits for a free one. */
  connections?: number;
  /**
   * How long a kept-alive connection may sit idle before it is closed (default 4 s), whatever the
   * peer's Keep-Alive hint says. Below Node's default server timeout (5 s), so the client closes
   * first and never sends on a socket the peer is closing.
   */
  idleConnectionMs?: number;
  /** Reads the peer's error text from its error body; default: `message` when it is a string. */
  describeError?: (body: unknown) => string | undefined;
}

export type UpstreamFailureKind = 'timeout' | 'unreachable' | 'http' | 'invalid_response';

/**
 * Why a call failed, classified once for every caller: `retryable` is true when trying again
 * later can succeed (the peer was unreachable or slow, answered 408, 429 or 5xx, or sent an
 * answer we could not read) and false when the same request will be refused again (other 4xx).
 * Callers map it to their own error model (AppError, the ledger's failures, Jira's).
 */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly target: string,
    readonly kind: UpstreamFailureKind,
    readonly retryable: boolean,
    readonly extra: {
      status?: number;
      /** The peer's error text (its body's message), when it sent one. */
      detail?: string;
      /** From Retry-After, when the peer said how long to wait. */
      retryAfterMs?: number;
      /** The socket error's code (ECONNREFUSED, ECONNRESET, …) for unreachable peers. */
      code?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'UpstreamError';
  }

  get status(): number | undefined {
    return this.extra.status;
  }

  get retryAfterMs(): number | undefined {
    return this.extra.retryAfterMs;
  }

  get code(): string | undefined {
    return this.extra.code;
  }

  get detail(): string | undefined {
    return this.extra.detail;
  }
}

export interface UpstreamCall<S extends z.ZodType> {
  method: 'GET' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  schema: S;
}

/**
 * undici's keep-alive settings for a pool whose idle connections close after `ms`. undici keeps an
 * idle socket as long as the peer's Keep-Alive hint allows (ours say 65 s) unless keepAliveMaxTimeout
 * caps it: after a burst of 500 clients the secretary and each LLM service held ~500 descriptors for a
 * minute. Every pool we open takes its keep-alive from here.
 */
export function idleConnectionLimit(ms: number): { keepAliveTimeout: number; keepAliveMaxTimeout: number } {
  return { keepAliveTimeout: ms, keepAliveMaxTimeout: ms };
}

/** A mesh hop's reconnect is a loopback or cluster-local handshake, well under a millisecond. */
const MESH_IDLE_CONNECTION_MS = 4_000;

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The one client for HTTP calls to other services and external APIs (undici: about a third
 * of axios's CPU per call here). A call is: send → classify the status (retryable or not) →
 * zod-parse the body → record `upstream_request_duration_seconds{target,outcome}`.
 * Connections are kept alive (a TCP handshake per call costs a quarter of mesh throughput)
 * and the request id travels as x-request-id. It never retries: retries live in exactly one
 * layer, the caller's, which knows whether a repeat is safe.
 */
export class UpstreamClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  private readonly jsonHeaders: Record<string, string>;

  constructor(private readonly options: UpstreamClientOptions) {
    const url = new URL(options.baseURL);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = new Pool(url.origin, {
      connections: options.connections ?? 256,
      ...idleConnectionLimit(options.idleConnectionMs ?? MESH_IDLE_CONNECTION_MS),
      connect: { timeout: Math.min(options.timeoutMs, 10_000) },
    });
    const authorization =
      options.authorization ?? (options.serviceToken ? `Bearer ${options.serviceToken}` : undefined);
    this.headers = { accept: 'application/json', ...(authorization ? { authorization } : {}) };
    this.jsonHeaders = { ...this.headers, 'content-type': 'application/json' };
  }

  get target(): string {
    return this.options.target;
  }

  async call<S extends z.ZodType>(call: UpstreamCall<S>): Promise<z.output<S>> {
    const { target } = this.options;
    const started = performance.now();
    let outcome = 'success';
    try {
      const {
        status,
        retryAfter: retryAfterHeader,
        body,
      } = await this.send(call.method, call.path, call.query, call.body);
      if (status >= 400) {
        outcome = `http_${status}`;
        const detail = (this.options.describeError ?? defaultDescribe)(body);
        const retryable = status >= 500 || status === 408 || status === 429;
        const retryAfterMs = retryAfter(retryAfterHeader);
        throw new UpstreamError(
          `${target} answered ${status}: ${detail ?? `HTTP ${status}`}`,
          target,
          'http',
          retryable,
          {
            status,
            ...(detail !== undefined ? { detail } : {}),
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          },
        );
      }
      const parsed = call.schema.safeParse(body);
      if (!parsed.success) {
        outcome = 'invalid_response';
        const issue = parsed.error.issues[0];
        throw new UpstreamError(
          `${target} returned an invalid answer: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'schema mismatch'}`,
          target,
          'invalid_response',
          true,
          { status },
        );
      }
      return parsed.data;
    } catch (error) {
      if (error instanceof UpstreamError) {
        if (outcome === 'success') outcome = error.kind;
        throw error;
      }
      throw new UpstreamError(
        `${target} call failed: ${(error as Error).message}`,
        target,
        'unreachable',
        true,
        {
          cause: error,
        },
      );
    } finally {
      this.options.metrics?.upstreamDuration.observe(
        { target, outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  /** A GET whose status the caller reads itself (health probes); only network failures throw. */
  async getJson(path: string, timeoutMs = 1_500): Promise<{ status: number; body: unknown }> {
    const { status, body } = await this.send('GET', path, undefined, undefined, timeoutMs);
    return { status, body };
  }

  /** Cheap reachability probe for /health. */
  async ping(path = '/health/live'): Promise<{ ok: boolean; status?: number; detail?: string }> {
    try {
      const { status } = await this.getJson(path);
      return { ok: status < 500, status };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  /**
   * One exchange through the pool's dispatcher, the body gathered as it arrives: undici's `request`
   * wraps every answer in a Readable stream (and its events) only for us to read it whole.
   */
  private send(
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string> | undefined,
    body: unknown,
    timeoutMs = this.options.timeoutMs,
  ): Promise<Answer> {
    const requestId = currentRequestId();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers =
      payload === undefined ? (requestId ? { ...this.headers } : this.headers) : { ...this.jsonHeaders };
    if (requestId) headers['x-request-id'] = requestId;
    const search = query ? `?${new URLSearchParams(query).toString()}` : '';
    return new Promise((resolve, reject) => {
      const handler = new AnswerCollector(resolve, (error) => reject(this.networkError(error, timeoutMs)));
      try {
        this.pool.dispatch(
          {
            method,
            path: `${this.basePath}${path}${search}`,
            headers,
            body: payload ?? null,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          handler,
        );
      } catch (error) {
        handler.onError(error as Error);
      }
    });
  }

  private networkError(error: unknown, timeoutMs: number): UpstreamError {
    const { target, baseURL } = this.options;
    const code = (error as { code?: unknown }).code;
    const codeText = typeof code === 'string' ? code : undefined;
    if (codeText && TIMEOUT_CODES.has(codeText)) {
      return new UpstreamError(`${target} did not answer within ${timeoutMs} ms`, target, 'timeout', true, {
        code: codeText,
        cause: error,
      });
    }
    return new UpstreamError(
      `${target} is unreachable at ${baseURL} (${codeText ?? (error as Error).message})`,
      target,
      'unreachable',
      true,
      { ...(codeText ? { code: codeText } : {}), cause: error },
    );
  }
}

interface Answer {
  status: number;
  /** The Retry-After header, when the peer sent one (the only header a caller reads). */
  retryAfter: string | undefined;
  body: unknown;
}

/** undici's dispatch handler: status, Retry-After and the body (JSON when it parses), nothing else kept. */
class AnswerCollector implements Dispatcher.DispatchHandlers {
  private status = 0;
  private retryAfter: string | undefined;
  private readonly chunks: Buffer[] = [];
  private done = false;

  constructor(
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  /** Nothing to abort: a call ends by its timeouts or the pool closing. */
  onConnect(): void {}

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    this.status = statusCode;
    if (statusCode >= 400 && rawHeaders) {
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        if (String(rawHeaders[i]).toLowerCase() === 'retry-after') {
          this.retryAfter = String(rawHeaders[i + 1]);
          break;
        }
      }
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    const { chunks } = this;
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (an HTML error page from a proxy): the schema rejects it as an invalid answer.
      }
    }
    this.resolve({ status: this.status, retryAfter: this.retryAfter, body: parsed });
  }

  onError(error: Error): void {
    if (this.done) return;
    this.done = true;
    this.reject(error);
  }
}

function defaultDescribe(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const message = (body as { message?: unknown }).message;
  return typeof message === 'string' ? message : undefined;
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds. */
function retryAfter(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}
