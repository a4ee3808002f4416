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
  new client.Gauge({
    name: 'service_info',
    help: 'Static information about the running service',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version }, 1);
  return {
    registry,
    httpDuration: new client.Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests handled by this service',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    upstreamDuration: new client.Histogram({
      name: 'upstream_request_duration_seconds',
      help: 'Duration of calls to other services and external APIs',
      labelNames: ['target', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    healthStatus: new client.Gauge({
      name: 'health_check_status',
      help: 'Result of the last health check per check (1 ok, 0 failing)',
      labelNames: ['check'],
      registers: [registry],
    }),
  };
}

export { client as promClient };
