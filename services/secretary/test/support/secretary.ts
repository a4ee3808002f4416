import { randomBytes } from 'node:crypto';
import type { ServiceMetrics } from '@workemon/http-kit';
import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, type TestDatabase } from '@workemon/testkit';
import { type Config, configSchema } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/data/db.js';
import { runMigrations } from '../../src/data/migrate.js';
import type { FollowUpWorker, FollowUpWorkerOptions } from '../../src/domain/follow-up-worker.js';
import type { Exchanges } from '../../src/exchanges.js';
import type { Clock } from '../../src/domain/ports.js';
import { startService } from '../../src/start.js';
import { analystAnswer, enoughContext, type FakeUpstream, startFakeUpstream } from './fake-upstream.js';

export interface RunningSecretary {
  url: string;
  /** Bearer for directory writes (ADMIN_API_KEYS): the configured one, or one made for the test. */
  adminKey: string;
  config: Config;
  logs: CapturedLines;
  metrics: ServiceMetrics;
  database: DatabaseHandle;
  exchanges: Exchanges;
  /** This instance's owner id (recorded on the exchanges and follow-ups it works on). */
  owner: string;
  followUpWorker: FollowUpWorker | undefined;
  /** Sends GET with query params (or POST with a JSON body) and returns status + parsed body. */
  analyze(params: Record<string, string>, options?: CallOptions): Promise<JsonResponse>;
  call(
    path: string,
    options?: CallOptions & { method?: string; body?: unknown; rawBody?: string },
  ): Promise<JsonResponse>;
  close(): Promise<void>;
}

export interface CallOptions {
  post?: boolean;
  token?: string | null;
  headers?: Record<string, string>;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  elapsedMs: number;
}

export interface StartSecretaryOptions {
  databaseUrl: string;
  guesserUrl: string;
  analystUrl: string;
  env?: Record<string, string>;
  clock?: Clock;
  /** Follow-up worker timings (tests shorten retries and sweeps). */
  followUps?: Partial<FollowUpWorkerOptions>;
}

/** The real secretary (its startService, as main.ts runs it) on 127.0.0.1:0, logging into a CapturedLines stream. */
export async function startSecretary(options: StartSecretaryOptions): Promise<RunningSecretary> {
  const config = configSchema.parse({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl,
    GUESSER_URL: options.guesserUrl,
    SYSTEM_ANALYST_URL: options.analystUrl,
    UPSTREAM_TIMEOUT_MS: '2000',
    DATABASE_POOL_MAX: '4',
    DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
    ADMIN_API_KEYS: TEST_ADMIN_KEY,
    // Auth fails closed; a test that gives no SERVICE_TOKEN runs the secretary open on purpose.
    ...(options.env?.SERVICE_TOKEN ? {} : { AUTH_DISABLED: 'true' }),
    ...options.env,
  });
  const logs = new CapturedLines();
  const logger = createLogger({ service: 'ai-secretary', version: 'test', stream: logs, level: 'debug' });
  const service = await startService(config, {
    logger,
    syncKnowledge: false,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.followUps ? { followUps: options.followUps } : {}),
  });
  const { url } = service;
  const defaultToken = config.API_KEYS[0] ?? config.SERVICE_TOKEN ?? config.ADMIN_API_KEYS[0];

  const call: RunningSecretary['call'] = async (path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? defaultToken : opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const started = performance.now();
    const res = await fetch(`${url}${path}`, {
      method: opts.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
    });
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { raw: text };
    }
    return { status: res.status, headers: res.headers, body: parsed, elapsedMs: performance.now() - started };
  };

  return {
    url,
    adminKey: config.ADMIN_API_KEYS[0] ?? TEST_ADMIN_KEY,
    config,
    logs,
    metrics: service.metrics,
    database: service.database,
    exchanges: service.exchanges,
    owner: service.owner,
    followUpWorker: service.followUps.worker,
    call,
    analyze: (params, opts = {}) =>
      opts.post
        ? call('/analyze-request', { ...opts, method: 'POST', body: params })
        : call(`/analyze-request?${new URLSearchParams(params).toString()}`, opts),
    close: () => {
      // Tests end with requests still open (stalled upstreams): drop them rather than wait.
      service.server.closeAllConnections();
      return service.close();
    },
  };
}

const TEST_ADMIN_KEY = `test-admin-${randomBytes(8).toString('hex')}`;

/** Usernames unique per test so conversations and history never collide. */
export function uniqueUsername(prefix = 'user'): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export function uniqueMessageId(): string {
  return `<${randomBytes(6).toString('hex')}@mail.test>`;
}

export interface SecretaryHarness {
  db: TestDatabase;
  guesser: FakeUpstream;
  analyst: FakeUpstream;
  secretary: RunningSecretary;
  /** Clears recorded calls and scripted replies of the fakes between tests. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * The usual component-test setup: a fresh migrated database, a fake guesser and analyst
 * (happy answers by default), and the real secretary app pointed at them.
 */
export async function startSecretaryHarness(options: {
  databasePrefix: string;
  env?: Record<string, string>;
  followUps?: Partial<FollowUpWorkerOptions>;
}): Promise<SecretaryHarness> {
  const db = await createTestDatabase(options.databasePrefix);
  await runMigrations(db.url);
  const guesser = await startFakeUpstream(() => enoughContext());
  const analyst = await startFakeUpstream(() => analystAnswer());
  const secretary = await startSecretary({
    databaseUrl: db.url,
    guesserUrl: guesser.url,
    analystUrl: analyst.url,
    ...(options.env ? { env: options.env } : {}),
    ...(options.followUps ? { followUps: options.followUps } : {}),
  });
  return {
    db,
    guesser,
    analyst,
    secretary,
    reset: () => {
      guesser.reset();
      analyst.reset();
    },
    close: async () => {
      await secretary.close();
      await guesser.close();
      await analyst.close();
      await db.drop();
    },
  };
}
