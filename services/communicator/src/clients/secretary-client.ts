import { type AnalysisResponse, AnalysisResponseSchema, type AnalyzeRequestInput } from '@workemon/contracts';
import { type ServiceMetrics, UpstreamClient, UpstreamError } from '@workemon/http-kit';
import { MessageFailure, PermanentFailure, RetryableFailure } from '../domain/errors.js';
import type { SecretaryPort } from '../domain/process-inbound-message-use-case.js';

/**
 * POST /analyze-request on the secretary. Failures keep the shared classification for the
 * ledger: a 4xx (except 408/429) is permanent — the same input will be rejected again (409: its
 * message_id was used for another request); a 500 or an invalid answer is a failure of this
 * message (counts an attempt); 502/503/504, 408/429, refused, reset and timed-out calls are
 * outages of the secretary or its LLM (retried, never counted). Retries happen in the ledger.
 */
export class SecretaryClient implements SecretaryPort {
  private readonly client: UpstreamClient;

  constructor(options: {
    baseURL: string;
    timeoutMs: number;
    serviceToken?: string | undefined;
    metrics?: ServiceMetrics;
  }) {
    this.client = new UpstreamClient({ target: 'secretary', ...options, connections: 64 });
  }

  async analyze(input: AnalyzeRequestInput): Promise<AnalysisResponse> {
    try {
      return await this.client.call({
        method: 'POST',
        path: '/analyze-request',
        body: input,
        schema: AnalysisResponseSchema,
      });
    } catch (error) {
      throw toLedgerFailure(error);
    }
  }

  ping(): Promise<{ ok: boolean; status?: number; detail?: string }> {
    return this.client.ping();
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function toLedgerFailure(error: unknown): PermanentFailure | MessageFailure | RetryableFailure {
  if (!(error instanceof UpstreamError))
    return new RetryableFailure(`secretary call failed: ${String(error)}`, undefined, { cause: error });
  if (error.kind === 'http' && (error.status === 401 || error.status === 403))
    // A credentials problem is fixed by an operator, not by the message: keep retrying.
    return new RetryableFailure(`secretary rejected our credentials (${error.status}): check SERVICE_TOKEN`);
  if (!error.retryable)
    return new PermanentFailure(
      `secretary rejected the request (${error.status}): ${error.detail ?? `HTTP ${error.status}`}`,
    );
  if (error.kind === 'http' && error.status === 500)
    return new MessageFailure(`secretary answered 500: ${error.detail ?? 'Internal Server Error'}`);
  if (error.kind === 'invalid_response') return new MessageFailure(error.message);
  if (error.kind === 'http')
    return new RetryableFailure(
      `secretary answered ${error.status}: ${error.detail ?? `HTTP ${error.status}`}`,
      error.retryAfterMs,
    );
  return new RetryableFailure(`secretary call failed (${error.kind}): ${error.message}`, undefined, {
    cause: error,
  });
}
