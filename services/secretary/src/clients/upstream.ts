import type { HealthCheckResult } from '@workemon/contracts';
import { isAppError } from '@workemon/errors';
import type { ServiceClient } from '@workemon/http-kit';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';

/**
 * Retries only calls that never reached the peer (connection refused, e.g. while it restarts):
 * those cannot have spent LLM tokens. Everything else is retried, if at all, by the LLM layer.
 */
export const connectRetry = retry(
  handleWhen((error) => isAppError(error) && error.status === 503 && causeCode(error) === 'ECONNREFUSED'),
  { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) },
);

function causeCode(error: Error): string | undefined {
  const cause = (error as { cause?: unknown }).cause;
  const code = cause && typeof cause === 'object' ? (cause as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

interface PeerHealth {
  status?: unknown;
  checks?: Record<string, { status?: unknown; detail?: unknown }>;
}

/** Reads a peer's /health: unreachable → down; degraded or down peer → degraded here, naming its reason. */
export async function upstreamHealth(client: ServiceClient, target: string): Promise<HealthCheckResult> {
  let body: PeerHealth;
  let statusCode: number;
  try {
    const res = await client.getJson('/health');
    body = typeof res.body === 'object' && res.body !== null ? (res.body as PeerHealth) : {};
    statusCode = res.status;
  } catch (error) {
    return { status: 'down', detail: `${target} is unreachable: ${(error as Error).message}` };
  }
  if (body.status === 'ok') return { status: 'ok' };
  const reasons = Object.entries(body.checks ?? {})
    .filter(([, c]) => c.status === 'down' || c.status === 'degraded')
    .map(([name, c]) => `${name}: ${typeof c.detail === 'string' ? c.detail : String(c.status)}`);
  const state = typeof body.status === 'string' ? body.status : `HTTP ${statusCode}`;
  return {
    status: 'degraded',
    detail: `${target} is ${state}${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`,
  };
}
