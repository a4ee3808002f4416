import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createTestDatabase,
  type Dovecot,
  type SmtpSink,
  startDovecot,
  startSmtpSink,
  migrateService,
  type ServiceProcess,
  startServiceProcess,
  type TestDatabase,
} from '@workemon/testkit';

export const SERVICE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(SERVICE_DIR, '../..');
export const SERVICE_TOKEN = 'test-service-token-0123456789';

/** dist/ is built once by the test run's global setup (test/global-setup.ts); this only says so when it is missing. */
export function ensureBuilt(): void {
  const main = join(SERVICE_DIR, 'dist', 'main.js');
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: run the tests through vitest (its global setup builds)`);
  }
}

/** Child-process mesh tests run the other services' dist/ too (built by vitest's global setup). */
export function ensureServicesBuilt(services: string[]): void {
  for (const service of services) {
    const main = join(REPO_ROOT, 'services', service, 'dist', 'main.js');
    if (!existsSync(main))
      throw new Error(`${main} is missing: run the tests through vitest (its global setup builds)`);
  }
}

export function migrate(databaseUrl: string): void {
  migrateService(SERVICE_DIR, databaseUrl);
}

export interface SecretaryCall {
  channel: string;
  username: string;
  request: string;
  message_id?: string;
  authorization: string | undefined;
}

export interface FakeSecretary {
  url: string;
  calls: SecretaryCall[];
  /** Replaces the answer function; return a number to answer with that HTTP status instead. */
  respond(fn: (call: SecretaryCall) => Record<string, unknown> | number): void;
  setDelay(ms: number): void;
  close(): Promise<void>;
}

/** A stand-in secretary with the real contract, idempotent by (channel, message_id) like the real one. */
export async function startFakeSecretary(options: { delayMs?: number } = {}): Promise<FakeSecretary> {
  const calls: SecretaryCall[] = [];
  const stored = new Map<string, Record<string, unknown>>();
  let delay = options.delayMs ?? 0;
  let responder = (call: SecretaryCall): Record<string, unknown> | number => ({
    is_enough: true,
    request: call.request,
    action: call.channel === 'email' ? 'ответить на письмо' : 'ответить сообщением',
    question: '',
    response: `Ответ для ${call.username}: ${call.request.slice(0, 60)}`,
  });
  const server = http.createServer((req, res) => {
    // A communicator SIGKILLed mid-request resets the socket: not an error of the fake.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.startsWith('/health')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Omit<
        SecretaryCall,
        'authorization'
      >;
      const call: SecretaryCall = { ...body, authorization: req.headers.authorization };
      calls.push(call);
      const key = call.message_id ? `${call.channel}:${call.message_id}` : undefined;
      const answer = () => {
        if (res.destroyed) return;
        const previous = key ? stored.get(key) : undefined;
        const result = previous ?? responder(call);
        if (typeof result === 'number') {
          res
            .writeHead(result, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: 'Error', message: `fake secretary ${result}`, statusCode: result }));
          return;
        }
        if (key) stored.set(key, result);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    respond: (fn) => {
      responder = fn;
    },
    setDelay: (ms) => {
      delay = ms;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface CommunicatorProcess extends ServiceProcess {
  health(): Promise<{ status: string; checks: Record<string, { status: string; detail?: string }> }>;
}

/**
 * Starts `node dist/main.js` with the given environment on a free loopback port; resolves once it
 * listens (or at once with `{ waitReady: false }`: the kill tests kill it wherever it is, booting too).
 */
export async function startCommunicator(
  env: Record<string, string>,
  options: { waitReady?: boolean } = {},
): Promise<CommunicatorProcess> {
  const service = await startServiceProcess({
    dir: SERVICE_DIR,
    env: { LOG_LEVEL: 'info', SERVICE_TOKEN, ...env },
    readyTimeoutMs: 20_000,
    ...(options.waitReady === false ? { waitReady: false } : {}),
  });
  return {
    ...service,
    health: async () =>
      // With the service token /health tells each check's detail (open probes only see statuses).
      (await (
        await fetch(`${service.url}/health`, {
          headers: { authorization: `Bearer ${env.SERVICE_TOKEN ?? SERVICE_TOKEN}` },
        })
      ).json()) as Awaited<ReturnType<CommunicatorProcess['health']>>,
  };
}

/** A plain RFC 5322 message. */
export function mail(opts: {
  from: string;
  to?: string;
  subject: string;
  body: string;
  messageId?: string;
  headers?: Record<string, string>;
}): string {
  const lines = [
    `From: ${opts.from}`,
    `To: ${opts.to ?? 'support@example.test'}`,
    `Subject: ${opts.subject}`,
    `Date: ${new Date().toUTCString()}`,
    ...(opts.messageId ? [`Message-ID: ${opts.messageId}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${opts.body.replace(/\n/g, '\r\n')}\r\n`;
}

export function emailEnv(dovecot: { host: string; port: number }, sink: { host: string; port: number }) {
  return {
    IMAP_HOST: dovecot.host,
    IMAP_PORT: String(dovecot.port),
    IMAP_SECURE: 'false',
    IMAP_TLS_REJECT_UNAUTHORIZED: 'false',
    IMAP_USER: 'support@example.test',
    IMAP_PASSWORD: 'secret',
    IMAP_POLL_INTERVAL_MS: '1000',
    SMTP_HOST: sink.host,
    SMTP_PORT: String(sink.port),
    SMTP_SECURE: 'false',
    // The SMTP sink does not file what it accepts into Dovecot (Yandex does): the communicator
    // appends each reply to the sent folder itself, where an interrupted send is looked for.
    IMAP_SENT_APPEND: 'true',
  };
}

export interface MailPeers {
  dovecot: Dovecot;
  sink: SmtpSink;
  secretary: FakeSecretary;
  db: TestDatabase;
}

/** The usual mail-test peers: Dovecot, the SMTP sink, a fake secretary and a fresh migrated database. */
export async function startMailPeers(databasePrefix: string): Promise<MailPeers> {
  ensureBuilt();
  const [dovecot, sink, secretary, db] = await Promise.all([
    startDovecot(),
    startSmtpSink(),
    startFakeSecretary(),
    createTestDatabase(databasePrefix),
  ]);
  migrate(db.url);
  return { dovecot, sink, secretary, db };
}

export async function stopMailPeers(
  peers: Partial<MailPeers>,
  communicator?: CommunicatorProcess,
): Promise<void> {
  await communicator?.kill();
  await Promise.all([peers.dovecot?.stop(), peers.sink?.close(), peers.secretary?.close()]);
  await peers.db?.drop();
}
