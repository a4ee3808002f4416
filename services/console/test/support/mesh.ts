import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, waitFor } from '@workemon/testkit';
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

export function migrate(service: string, databaseUrl: string): void {
  execFileSync('node', [dist(service, 'migrate.js')], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'pipe',
  });
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  logs: string[];
}

export async function startService(service: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const logs: string[] = [];
  const child = spawn('node', [dist(service)], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      SERVICE_TOKEN,
      LOG_LEVEL: 'warn',
      ...env,
    },
    cwd: join(REPO_ROOT, 'services', service),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => logs.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => logs.push(c.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${service} exited: ${logs.join('').slice(-2000)}`);
    return (await fetch(`${url}/health/live`)).ok;
  }, 30_000).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${service} did not start: ${(error as Error).message}`);
  });
  return { url, child, logs };
}

export async function stopService(service: ServiceProcess | undefined): Promise<void> {
  if (!service || service.child.exitCode !== null) return;
  const exited = new Promise((r) => service.child.once('exit', r));
  service.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 12_000))]);
  if (service.child.exitCode === null) service.child.kill('SIGKILL');
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
