import {
  type ContextResponse,
  ContextResponseSchema,
  type GetContextInput,
  type HealthCheckResult,
} from '@workemon/contracts';
import { ServiceClient, type ServiceMetrics } from '@workemon/http-kit';
import type { GuesserPort } from '../domain/ports.js';
import { connectRetry, upstreamHealth } from './upstream.js';

export interface UpstreamClientOptions {
  baseURL: string;
  timeoutMs: number;
  serviceToken?: string | undefined;
  metrics?: ServiceMetrics;
}

/** ai-guesser: POST /get-context. */
export class GuesserClient implements GuesserPort {
  readonly client: ServiceClient;

  constructor(options: UpstreamClientOptions) {
    this.client = new ServiceClient({ target: 'guesser', ...options });
  }

  getContext(input: GetContextInput): Promise<ContextResponse> {
    return connectRetry.execute(() => this.client.post('/get-context', input, ContextResponseSchema));
  }

  health(): Promise<HealthCheckResult> {
    return upstreamHealth(this.client, 'guesser');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
