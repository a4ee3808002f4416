import { type AnalysisResponse, AnalysisResponseSchema, type AnalyzeRequestInput } from '@workemon/contracts';
import { type ServiceMetrics, ServiceClient } from '@workemon/http-kit';
import { currentRequestId } from '@workemon/logger';
import { isAxiosError } from 'axios';
import { MessageFailure, PermanentFailure, RetryableFailure } from '../domain/errors.js';
import type { SecretaryPort } from '../domain/process-inbound-message-use-case.js';

/**
 * POST /analyze-request on the secretary over a keep-alive ServiceClient.
 * Unlike ServiceClient.post it classifies failures for the ledger: a 4xx
 * (except 408/429) is permanent — the same input will be rejected again (409:
 * its message_id was used for another request); a 500 is a failure of this
 * message (counts an attempt); 502/503/504, 408/429, refused, reset and
 * timed-out calls are outages of the secretary or its LLM (retried, never
 * counted). Retries happen in the ledger, not here.
 */
export class SecretaryClient implements SecretaryPort {
  private readonly client: ServiceClient;

  constructor(
    private readonly options: {
      baseURL: string;
      timeoutMs: number;
      serviceToken?: string | undefined;
      metrics?: ServiceMetrics;
    },
  ) {
    this.client = new ServiceClient({ target: 'secretary', ...options, maxSockets: 64 });
  }

  async analyze(input: AnalyzeRequestInput): Promise<AnalysisResponse> {
    const started = performance.now();
    let outcome = 'success';
    try {
      const requestId = currentRequestId();
      const response = await this.client.http.post('/analyze-request', input, {
        headers: requestId ? { 'x-request-id': requestId } : {},
      });
      const body = response.data as { message?: unknown } | undefined;
      const detail = typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`;
      if (response.status >= 400) {
        outcome = `http_${response.status}`;
        if (response.status === 500) {
          throw new MessageFailure(`secretary answered 500: ${detail}`);
        }
        if (response.status > 500 || response.status === 408 || response.status === 429) {
          const retryAfter = Number(response.headers['retry-after']);
          throw new RetryableFailure(
            `secretary answered ${response.status}: ${detail}`,
            Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
          );
        }
        if (response.status === 401 || response.status === 403) {
          // A credentials problem is fixed by an operator, not by the message: keep retrying.
          throw new RetryableFailure(
            `secretary rejected our credentials (${response.status}): check SERVICE_TOKEN`,
          );
        }
        throw new PermanentFailure(`secretary rejected the request (${response.status}): ${detail}`);
      }
      const parsed = AnalysisResponseSchema.safeParse(response.data);
      if (!parsed.success) {
        outcome = 'invalid_response';
        throw new MessageFailure(
          `secretary returned an invalid answer: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`,
        );
      }
      return parsed.data;
    } catch (error) {
      if (
        error instanceof PermanentFailure ||
        error instanceof MessageFailure ||
        error instanceof RetryableFailure
      )
        throw error;
      outcome =
        isAxiosError(error) && (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT')
          ? 'timeout'
          : 'unreachable';
      throw new RetryableFailure(
        `secretary call failed (${outcome}): ${(error as Error).message}`,
        undefined,
        { cause: error },
      );
    } finally {
      this.options.metrics?.upstreamDuration.observe(
        { target: 'secretary', outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  ping(): Promise<{ ok: boolean; status?: number; detail?: string }> {
    return this.client.ping();
  }

  close(): void {
    this.client.close();
  }
}
