import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hash } from '@node-rs/argon2';
import type { ServiceMetrics } from '@workemon/http-kit';
import { CapturedLines, createLogger } from '@workemon/logger';
import { configSchema, type Config } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/data/db.js';
import { runMigrations } from '../../src/data/migrate.js';
import { startService } from '../../src/start.js';

export const CONSOLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

let builtPage: string | undefined;
/** The page as `pnpm build` makes it, bundled once per test process into a temp dir. */
export function buildPage(): string {
  if (builtPage) return builtPage;
  const out = mkdtempSync(join(tmpdir(), 'wm-console-page-'));
  execFileSync('node', [join(CONSOLE_DIR, 'scripts', 'build-page.mjs'), out], { stdio: 'pipe' });
  builtPage = out;
  return out;
}

export interface TestOperator {
  name: string;
  role: 'operator' | 'admin';
  password: string;
}

export const OPERATORS: TestOperator[] = [
  { name: 'anna', role: 'admin', password: 'anna-password-1' },
  { name: 'boris', role: 'operator', password: 'boris-password-2' },
];

export async function operatorsJson(operators: TestOperator[] = OPERATORS): Promise<string> {
  return JSON.stringify(
    await Promise.all(
      operators.map(async (o) => ({ name: o.name, role: o.role, password_hash: await hash(o.password) })),
    ),
  );
}

export interface RunningConsole {
  url: string;
  config: Config;
  logs: CapturedLines;
  metrics: ServiceMetrics;
  database: DatabaseHandle;
  close(): Promise<void>;
}

/** The real console (its startService, as main.ts runs it) on 127.0.0.1:0 against a migrated database. */
export async function startConsole(options: {
  databaseUrl: string;
  secretaryUrl: string;
  communicatorUrl: string;
  serviceToken?: string;
  env?: Record<string, string>;
}): Promise<RunningConsole> {
  await runMigrations(options.databaseUrl);
  const config = configSchema.parse({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl,
    DATABASE_POOL_MAX: '4',
    SECRETARY_URL: options.secretaryUrl,
    COMMUNICATOR_URL: options.communicatorUrl,
    UPSTREAM_TIMEOUT_MS: '5000',
    OPERATORS: await operatorsJson(),
    LIVE_POLL_INTERVAL_MS: '200',
    ...(options.serviceToken ? { SERVICE_TOKEN: options.serviceToken } : {}),
    ...options.env,
  });
  const logs = new CapturedLines();
  const logger = createLogger({ service: 'console', version: 'test', stream: logs, level: 'debug' });
  const service = await startService(config, { logger, pageDir: buildPage() });
  return {
    url: service.url,
    config,
    logs,
    metrics: service.metrics,
    database: service.database,
    close: () => {
      // Live-update streams stay open until dropped: a test does not wait for them.
      service.server.closeAllConnections();
      return service.close();
    },
  };
}

/** A browser-like client: keeps the session cookie, sends the CSRF header when it has one. */
export class ConsoleClient {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(readonly url: string) {}

  async request(
    method: string,
    path: string,
    options: {
      body?: unknown;
      csrf?: string | null;
      contentType?: string;
      raw?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<{ status: number; headers: Headers; body: Record<string, unknown>; text: string }> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookie) headers.cookie = this.cookie;
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
    let body: string | undefined;
    if (options.raw !== undefined) body = options.raw;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(`${this.url}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  async signIn(name: string, password: string, headers: Record<string, string> = {}) {
    const res = await this.request('POST', '/api/session', { body: { name, password }, headers });
    const setCookie = res.headers.get('set-cookie');
    if (res.status === 201 && setCookie) {
      this.cookie = setCookie.split(';')[0];
      this.csrf = res.body.csrf_token as string;
    }
    return res;
  }
}

/** An operator's open page, as the server-sent events it receives (the page's EventSource). */
export async function listenEvents(client: ConsoleClient) {
  const controller = new AbortController();
  const res = await fetch(`${client.url}/api/events`, {
    headers: { cookie: client.cookie ?? '' },
    signal: controller.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`/api/events answered ${res.status}`);
  const events: Record<string, unknown>[] = [];
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
        buffer = buffer.slice(end + 2);
        if (data) events.push(JSON.parse(data) as Record<string, unknown>);
      }
    }
  })().catch(() => undefined);
  return {
    events,
    close: async () => {
      controller.abort();
      await reading;
    },
  };
}
