import http from 'node:http';
import https from 'node:https';
import { AppError } from '@workemon/errors';
import { currentRequestId } from '@workemon/logger';
import { createRequire } from 'node:module';
import type { AxiosInstance, AxiosStatic } from 'axios';
import type { z } from 'zod';
import type { ServiceMetrics } from './metrics.js';

// axios is loaded on first use: services that never call another service (guesser,
// system-analyst) then do not pay its ~10 MB of resident memory.
let axiosModule: AxiosStatic | undefined;
const loadAxios = (): AxiosStatic => (axiosModule ??= createRequire(import.meta.url)('axios') as AxiosStatic);

export interface ServiceClientOptions {
  /** Label for metrics and error messages, e.g. "guesser". */
  target: string;
  baseURL: string;
  timeoutMs: number;
  serviceToken?: string | undefined;
  /** A full Authorization header for a non-mesh API (e.g. Basic for Jira); wins over serviceToken. */
  authorization?: string | undefined;
  metrics?: ServiceMetrics;
  maxSockets?: number;
}

/**
 * Typed JSON-over-HTTP client for calls between services. Connections are kept
 * alive (a fresh TCP handshake per call costs about a quarter of mesh throughput),
 * the request id travels as x-request-id, and failures become AppErrors the
 * caller can relay: unreachable → 503, timeout → 504, bad answer → 502.
 * It does not retry: retries live in exactly one layer, the caller's.
 */
export class ServiceClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private instance: AxiosInstance | undefined;

  constructor(private readonly options: ServiceClientOptions) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256, maxFreeSockets: 64 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  /** The axios instance, created on the first call so an idle process never loads axios. */
  get http(): AxiosInstance {
    this.instance ??= loadAxios().create({
      baseURL: this.options.baseURL,
      timeout: this.options.timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      validateStatus: () => true,
      maxRedirects: 0,
      headers: this.authorizationHeader(),
    });
    return this.instance;
  }

  private authorizationHeader(): Record<string, string> {
    if (this.options.authorization) return { authorization: this.options.authorization };
    return this.options.serviceToken ? { authorization: `Bearer ${this.options.serviceToken}` } : {};
  }

  async post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    return this.request('POST', path, schema, { data: body });
  }

  async get<S extends z.ZodType>(
    path: string,
    params: Record<string, string>,
    schema: S,
  ): Promise<z.output<S>> {
    return this.request('GET', path, schema, { params });
  }

  private async request<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    extra: { data?: unknown; params?: Record<string, string> },
  ): Promise<z.output<S>> {
    const { target } = this.options;
    const started = performance.now();
    let outcome = 'success';
    try {
      const requestId = currentRequestId();
      const response = await this.http.request({
        method,
        url: path,
        ...extra,
        headers: requestId ? { 'x-request-id': requestId } : {},
      });
      if (response.status >= 400) {
        outcome = `http_${response.status}`;
        const body = response.data as { message?: unknown } | undefined;
        const detail = typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`;
        if (response.status === 504) throw AppError.gatewayTimeout(`${target}: ${detail}`);
        if (response.status === 503 || response.status === 429) {
          const retryAfter = Number(response.headers['retry-after']);
          throw AppError.unavailable(
            `${target}: ${detail}`,
            Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {},
          );
        }
        if (response.status === 401 || response.status === 403) {
          throw AppError.badGateway(`${target} rejected our credentials (check SERVICE_TOKEN): ${detail}`);
        }
        throw AppError.badGateway(`${target} failed: ${detail}`);
      }
      const parsed = schema.safeParse(response.data);
      if (!parsed.success) {
        outcome = 'invalid_response';
        throw AppError.badGateway(
          `${target} returned an invalid answer: ${parsed.error.issues[0]?.message ?? 'schema mismatch'}`,
        );
      }
      return parsed.data;
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (loadAxios().isAxiosError(error)) {
        if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') {
          outcome = 'timeout';
          throw AppError.gatewayTimeout(
            `${target} did not answer within ${this.options.timeoutMs} ms`,
            error,
          );
        }
        outcome = 'unreachable';
        throw AppError.unavailable(
          `${target} is unreachable at ${this.options.baseURL} (${error.code ?? error.message})`,
          { cause: error },
        );
      }
      outcome = 'error';
      throw AppError.badGateway(`${target} call failed: ${(error as Error).message}`, error);
    } finally {
      this.options.metrics?.upstreamDuration.observe(
        { target, outcome },
        (performance.now() - started) / 1000,
      );
    }
  }

  /** Cheap reachability probe for /health. */
  async ping(path = '/health/live'): Promise<{ ok: boolean; status?: number; detail?: string }> {
    try {
      const res = await this.http.get(path, { timeout: 1_500 });
      return { ok: res.status < 500, status: res.status };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
