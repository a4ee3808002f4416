import { AppError, type ErrorCode } from '@workemon/errors';
import { type ServiceMetrics, toAppError, UpstreamClient, UpstreamError } from '@workemon/http-kit';
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
 * A mesh service called on an operator's behalf. Unlike ServiceClient, the peer's own 4xx
 * verdicts (bad parameter, not found, taken over by someone else) reach the operator as they
 * are; credentials problems, 5xx, timeouts and garbage stay 502/503/504 as everywhere.
 */
export class OperatorUpstream {
  readonly client: UpstreamClient;

  constructor(target: string, options: UpstreamOptions) {
    this.client = new UpstreamClient({ target, ...options, connections: 32 });
  }

  async call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    extra: { body?: unknown; query?: Record<string, string> } = {},
  ): Promise<z.output<S>> {
    try {
      return await this.client.call({ method, path, schema, ...extra });
    } catch (error) {
      const relayed =
        error instanceof UpstreamError && error.kind === 'http' ? RELAYED[error.status ?? 0] : undefined;
      if (relayed && error instanceof UpstreamError)
        throw new AppError(relayed, error.detail ?? error.message, { cause: error });
      throw toAppError(error);
    }
  }

  health(): Promise<{ ok: boolean; status?: number; detail?: string }> {
    return this.client.ping();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
