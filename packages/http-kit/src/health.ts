import type { HealthCheckResult, HealthResponse } from '@workemon/contracts';
import type { ServiceMetrics } from './metrics.js';

export interface HealthCheck {
  name: string;
  /** A critical check that is down makes the whole service `down` (503); others only degrade it. */
  critical?: boolean;
  run: () => Promise<HealthCheckResult> | HealthCheckResult;
}

const CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: HealthCheck): Promise<HealthCheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      Promise.resolve().then(check.run),
      new Promise<HealthCheckResult>((resolve) => {
        timer = setTimeout(
          () => resolve({ status: 'down', detail: `check timed out after ${CHECK_TIMEOUT_MS} ms` }),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { latencyMs: Math.round(performance.now() - started), ...result };
  } catch (error) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      detail: (error as Error).message,
    };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export class HealthRegistry {
  private readonly checks: HealthCheck[] = [];
  private readonly startedAt = Date.now();

  constructor(
    private readonly service: string,
    private readonly version: string,
    private readonly metrics?: ServiceMetrics,
  ) {}

  register(check: HealthCheck): this {
    this.checks.push(check);
    return this;
  }

  async report(): Promise<HealthResponse> {
    const results = await Promise.all(this.checks.map(async (c) => [c, await runCheck(c)] as const));
    let status: HealthResponse['status'] = 'ok';
    const checks: Record<string, HealthCheckResult> = {};
    for (const [check, result] of results) {
      checks[check.name] = result;
      this.metrics?.healthStatus.set(
        { check: check.name },
        result.status === 'ok' || result.status === 'disabled' ? 1 : 0,
      );
      if (result.status === 'down' && check.critical) status = 'down';
      else if ((result.status === 'down' || result.status === 'degraded') && status === 'ok')
        status = 'degraded';
    }
    return {
      status,
      service: this.service,
      version: this.version,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      checks,
    };
  }
}

/** The critical check of a service that records nothing without its database: one round trip. */
export function databaseHealthCheck(database: {
  pool: { query: (text: string) => Promise<unknown> };
}): HealthCheck {
  return {
    name: 'database',
    critical: true,
    run: async () => {
      await database.pool.query('select 1');
      return { status: 'ok' };
    },
  };
}
