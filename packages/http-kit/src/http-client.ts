import { AppError } from '@workemon/errors';
import type { z } from 'zod';
import type { ServiceMetrics } from './metrics.js';
import { UpstreamClient, UpstreamError } from './upstream-client.js';

export interface ServiceClientOptions {
  /** Label for metrics and error messages, e.g. "guesser". */
  target: string;
  baseURL: string;
  timeoutMs: number;
  serviceToken?: string | undefined;
  metrics?: ServiceMetrics | undefined;
  /** Keep-alive connections to the peer. */
  connections?: number;
}

/**
 * Typed JSON client for calls between our services: an UpstreamClient whose failures become
 * AppErrors the caller can relay — unreachable → 503 (the socket error as cause), timeout or a
 * peer's 504 → 504, a peer's 503/429 → 503 with its Retry-After, anything else → 502.
 */
export class ServiceClient {
  readonly upstream: UpstreamClient;

  constructor(options: ServiceClientOptions) {
    this.upstream = new UpstreamClient(options);
  }

  async post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    try {
      return await this.upstream.call({ method: 'POST', path, body, schema });
    } catch (error) {
      throw toAppError(error);
    }
  }

  async get<S extends z.ZodType>(
    path: string,
    query: Record<string, string>,
    schema: S,
  ): Promise<z.output<S>> {
    try {
      return await this.upstream.call({ method: 'GET', path, query, schema });
    } catch (error) {
      throw toAppError(error);
    }
  }

  /** A GET whose status the caller reads itself (health probes); only network failures throw. */
  getJson(path: string, timeoutMs?: number): Promise<{ status: number; body: unknown }> {
    return this.upstream.getJson(path, timeoutMs);
  }

  ping(path?: string): Promise<{ ok: boolean; status?: number; detail?: string }> {
    return this.upstream.ping(path);
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}

/** The mesh's mapping of an upstream failure to the status our own caller sees. */
export function toAppError(error: unknown): AppError {
  if (!(error instanceof UpstreamError))
    return AppError.badGateway(`upstream call failed: ${String(error)}`, error);
  const { target } = error;
  const detail = error.detail ?? (error.status ? `HTTP ${error.status}` : error.message);
  const retryAfterSeconds =
    error.retryAfterMs === undefined ? undefined : Math.ceil(error.retryAfterMs / 1000);
  switch (error.kind) {
    case 'timeout':
      return AppError.gatewayTimeout(error.message, error);
    case 'unreachable':
      // The socket error is the cause: callers retry ECONNREFUSED (the call never reached the peer).
      return AppError.unavailable(error.message, { cause: error.cause ?? error });
    case 'invalid_response':
      return AppError.badGateway(error.message, error);
    case 'http':
      if (error.status === 504) return AppError.gatewayTimeout(`${target}: ${detail}`, error);
      if (error.status === 503 || error.status === 429)
        return AppError.unavailable(`${target}: ${detail}`, {
          cause: error,
          ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        });
      if (error.status === 401 || error.status === 403)
        return AppError.badGateway(
          `${target} rejected our credentials (check SERVICE_TOKEN): ${detail}`,
          error,
        );
      return AppError.badGateway(`${target} failed: ${detail}`, error);
  }
}
