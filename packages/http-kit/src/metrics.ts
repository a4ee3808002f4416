import client from 'prom-client';

export type Registry = client.Registry;

export interface ServiceMetrics {
  registry: client.Registry;
  httpDuration: client.Histogram<'method' | 'route' | 'status_code'>;
  upstreamDuration: client.Histogram<'target' | 'outcome'>;
  healthStatus: client.Gauge<'check'>;
}

/** Latency buckets (seconds) that resolve both fast routes and LLM-bound ones. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

/** One registry per service: default process metrics plus the mesh-wide HTTP metrics. */
export function createServiceMetrics(service: string, version: string): ServiceMetrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });
  const m = metricsOn(registry);
  m.gauge('service_info', 'Static information about the running service', { labelNames: ['version'] }).set(
    { version },
    1,
  );
  return {
    registry,
    httpDuration: m.histogram(
      'http_server_request_duration_seconds',
      'Duration of HTTP requests handled by this service',
      {
        labelNames: ['method', 'route', 'status_code'],
      },
    ),
    upstreamDuration: m.histogram(
      'upstream_request_duration_seconds',
      'Duration of calls to other services and external APIs',
      { labelNames: ['target', 'outcome'] },
    ),
    healthStatus: m.gauge(
      'health_check_status',
      'Result of the last health check per check (1 ok, 0 failing)',
      {
        labelNames: ['check'],
      },
    ),
  };
}

type Collect<M> = (this: M) => void | Promise<void>;

/**
 * A service's own metrics on its registry, one call each. A name already registered is returned as
 * it is, so wiring twice on one registry (tests) shares the series instead of throwing.
 */
export function metricsOn(registry: Registry) {
  const registers = [registry];
  const existing = <M>(name: string) => registry.getSingleMetric(name) as M | undefined;
  return {
    counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) {
      return (
        existing<client.Counter<L>>(name) ?? new client.Counter<L>({ name, help, labelNames, registers })
      );
    },
    gauge<L extends string = string>(
      name: string,
      help: string,
      options: { labelNames?: readonly L[]; collect?: Collect<client.Gauge<L>> } = {},
    ) {
      return (
        existing<client.Gauge<L>>(name) ??
        new client.Gauge<L>({
          name,
          help,
          labelNames: options.labelNames ?? [],
          registers,
          ...(options.collect ? { collect: options.collect } : {}),
        })
      );
    },
    histogram<L extends string = string>(
      name: string,
      help: string,
      options: { labelNames?: readonly L[]; buckets?: number[] } = {},
    ) {
      return (
        existing<client.Histogram<L>>(name) ??
        new client.Histogram<L>({
          name,
          help,
          labelNames: options.labelNames ?? [],
          buckets: options.buckets ?? LATENCY_BUCKETS,
          registers,
        })
      );
    },
  };
}

/**
 * A value read at scrape time (from the database, so every replica reports the shared truth), read
 * once for all the gauges of one scrape and kept for `maxAgeMs`. Undefined when the read fails: the
 * database is down, /health says why, and the gauges keep their last values instead of failing the scrape.
 */
export function scrapeReading<T>(read: () => Promise<T>, maxAgeMs = 1_000): () => Promise<T | undefined> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > maxAgeMs) cached = { at: Date.now(), value: read() };
    try {
      return await cached.value;
    } catch {
      return undefined;
    }
  };
}

export { client as promClient };
