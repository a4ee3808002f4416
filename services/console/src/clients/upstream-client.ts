import { AppError, type ErrorCode } from '@workemon/errors';
import { ServiceClient, type ServiceMetrics } from '@workemon/http-kit';
import { currentRequestId } from '@workemon/logger';
import type { z } from 'zod';

export interface UpstreamOptions {
  baseURL: string;
  timeoutMs: number;
  serviceToken?: string | undefined;
  metrics?: ServiceMetrics;
}

const RELAYED: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'UNPROCESSABLE',
};

/**
 * A mesh service called on an operator's behalf. Unlike ServiceClient.get/post, the peer's own
 * 4xx verdicts (bad parameter, not found, taken over by someone else) reach the operator as they
 * are; credentials problems, 5xx, timeouts and garbage stay 502/503/504 as everywhere.
 */
export class UpstreamClient {
  readonly service: ServiceClient;

  private readonly metrics: ServiceMetrics | undefined;

  constructor(
    private readonly target: string,
    options: UpstreamOptions,
  ) {
    this.service = new ServiceClient({ target, ...options, maxSockets: 32 });
    this.metrics = options.metrics;
  }

  async call<S extends z.ZodType>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    schema: S,
    extra: { data?: unknown; params?: Record<string, string> } = {},
  ): Promise<z.output<S>> {
    let response;
    const started = performance.now();
    let outcome = 'success';
    try {
      const requestId = currentRequestId();
      response = await this.service.http.request({
        method,
        url: path,
        ...extra,
        headers: requestId ? { 'x-request-id': requestId } : {},
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      outcome = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timeout' : 'unreachable';
      if (outcome === 'timeout') {
        this.metrics?.upstreamDuration.observe(
          { target: this.target, outcome },
          (performance.now() - started) / 1000,
        );
        throw AppError.gatewayTimeout(`${this.target} did not answer in time`, error);
      }
      this.metrics?.upstreamDuration.observe(
        { target: this.target, outcome },
        (performance.now() - started) / 1000,
      );
      throw AppError.unavailable(`${this.target} is unreachable (${code ?? (error as Error).message})`, {
        cause: error,
      });
    }
    const body = response.data as { message?: unknown } | undefined;
    const detail = typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`;
    try {
      if (response.status >= 400) {
        outcome = `http_${response.status}`;
        const relayed = RELAYED[response.status];
        if (relayed) throw new AppError(relayed, detail);
        if (response.status === 401 || response.status === 403)
          throw AppError.badGateway(
            `${this.target} rejected the console's credentials (check SERVICE_TOKEN)`,
          );
        if (response.status === 503 || response.status === 429) {
          const retryAfter = Number(response.headers['retry-after']);
          throw AppError.unavailable(
            `${this.target}: ${detail}`,
            Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {},
          );
        }
        if (response.status === 504) throw AppError.gatewayTimeout(`${this.target}: ${detail}`);
        throw AppError.badGateway(`${this.target} failed: ${detail}`);
      }
      if (response.status === 204) return schema.parse(undefined);
      const parsed = schema.safeParse(response.data);
      if (!parsed.success) {
        outcome = 'invalid_response';
        throw AppError.badGateway(`${this.target} returned an invalid answer`);
      }
      return parsed.data;
    } finally {
      this.metrics?.upstreamDuration.observe(
        { target: this.target, outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  health(): Promise<{ ok: boolean; status?: number; detail?: string }> {
    return this.service.ping();
  }

  close(): void {
    this.service.close();
  }
}
