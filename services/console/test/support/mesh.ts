import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { migrateService, type ServiceProcess, startServiceProcess } from '@workemon/testkit';
import { CONSOLE_DIR } from './console.js';

export const REPO_ROOT = resolve(CONSOLE_DIR, '../..');
export const SERVICE_TOKEN = 'console-browser-service-token-0123456789';

const dist = (service: string, file = 'main.js') => join(REPO_ROOT, 'services', service, 'dist', file);

/**
 * The other services run as processes from their dist (a test never imports another service's
 * source); the test run's global setup builds them, this only covers a run without it.
 */
export function ensureMeshBuilt(): void {
  const needed = [
    ...['secretary', 'guesser', 'system-analyst', 'communicator'].map((s) => dist(s)),
    dist('secretary', 'migrate.js'),
    dist('communicator', 'migrate.js'),
  ];
  if (needed.some((file) => !existsSync(file)))
    execFileSync('pnpm', ['build'], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 300_000 });
}

const serviceDir = (service: string) => join(REPO_ROOT, 'services', service);

export function migrate(service: string, databaseUrl: string): void {
  migrateService(serviceDir(service), databaseUrl);
}

export function startService(service: string, env: Record<string, string>): Promise<ServiceProcess> {
  return startServiceProcess({ dir: serviceDir(service), env: { SERVICE_TOKEN, LOG_LEVEL: 'warn', ...env } });
}

/** A plain RFC 5322 message. */
export function mail(opts: {
  from: string;
  subject: string;
  body: string;
  messageId: string;
  inReplyTo?: string;
}): string {
  const lines = [
    `From: ${opts.from}`,
    'To: support@example.test',
    `Subject: ${opts.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${opts.messageId}`,
    ...(opts.inReplyTo ? [`In-Reply-To: ${opts.inReplyTo}`, `References: ${opts.inReplyTo}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${opts.body.replace(/\n/g, '\r\n')}\r\n`;
}
