import {
  ActionSchema,
  type AnalyticsResponse,
  AnalyticsResponseSchema,
  type HealthCheckResult,
  type PrepareAnalyticsInput,
  z,
} from '@workemon/contracts';
import { ServiceClient } from '@workemon/http-kit';
import type { SystemAnalystPort } from '../domain/ports.js';
import type { UpstreamClientOptions } from './guesser-client.js';
import { connectRetry, upstreamHealth } from './upstream.js';

/** An action outside the enum is a proposal we ignore (policy falls back to the channel default), not a broken answer. */
const LenientAnalyticsResponseSchema = AnalyticsResponseSchema.extend({
  action: z
    .unknown()
    .optional()
    .transform((value) => {
      const parsed = ActionSchema.safeParse(value);
      return parsed.success ? parsed.data : undefined;
    }),
});

/** ai-systemanalitic: POST /prepare-analititcs (the spec's spelling). */
export class SystemAnalystClient implements SystemAnalystPort {
  readonly client: ServiceClient;

  constructor(options: UpstreamClientOptions) {
    this.client = new ServiceClient({ target: 'system-analyst', ...options });
  }

  prepareAnalytics(input: PrepareAnalyticsInput): Promise<AnalyticsResponse> {
    return connectRetry.execute(() =>
      this.client.post('/prepare-analititcs', input, LenientAnalyticsResponseSchema),
    );
  }

  health(): Promise<HealthCheckResult> {
    return upstreamHealth(this.client, 'system-analyst');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
