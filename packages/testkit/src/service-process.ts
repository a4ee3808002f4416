import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';

export interface ServiceProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Its stdout and stderr, a line an entry (all of them, or the newest `keepLogs`). */
  logs: string[];
  /** Resolves with the exit code once the process has ended (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM unless told) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM, then SIGKILL when it has not drained within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartServiceProcessOptions {
  /** The service's directory (it runs `node dist/main.js` there, as the launcher and the image do). */
  dir: string;
  /** Variables besides PATH, HOST=127.0.0.1 and PORT: the child sees no other environment. */
  env: Record<string, string>;
  /** A fixed port (a restart on the same address); a free one when absent. */
  port?: number;
  /** Resolve once /health/live answers (default); false: at once (a kill test kills it while booting). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  keepLogs?: number;
}

/**
 * A built service as a real process on 127.0.0.1: what mesh and kill tests run (a test never imports
 * another service's source). The test holds the PID and ends only this process.
 */
export async function startServiceProcess(options: StartServiceProcessOptions): Promise<ServiceProcess> {
  const main = join(options.dir, 'dist', 'main.js');
  if (!existsSync(main))
    throw new Error(`${main} is missing: run the tests through vitest (its global setup builds)`);
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...options.env },
    cwd: options.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const collect = () => {
    // A chunk may end inside a line: keep its tail until the rest arrives.
    let tail = '';
    return (chunk: Buffer) => {
      const lines = (tail + chunk.toString()).split('\n');
      tail = lines.pop() ?? '';
      logs.push(...lines.filter(Boolean));
      const keep = options.keepLogs ?? Infinity;
      if (logs.length > keep) logs.splice(0, logs.length - keep);
    };
  };
  child.stdout?.on('data', collect());
  child.stderr?.on('data', collect());
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;
  const url = `http://127.0.0.1:${port}`;
  const service: ServiceProcess = {
    url,
    port,
    child,
    logs,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (running()) child.kill(signal);
      return exited;
    },
    stop: async (graceMs = 12_000) => {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
      if ((await Promise.race([exited, timer])) === 'late') await service.kill('SIGKILL');
    },
  };
  if (options.waitReady === false) return service;
  await waitFor(
    async () => {
      if (!running()) throw new Error(`exited: ${logs.slice(-20).join('\n')}`);
      return (await fetch(`${url}/health/live`)).ok;
    },
    options.readyTimeoutMs ?? 30_000,
    50,
  ).catch(async (error: unknown) => {
    await service.kill('SIGKILL');
    throw new Error(
      `${options.dir} did not start: ${(error as Error).message}\n${logs.slice(-10).join('\n')}`,
    );
  });
  return service;
}

/** Runs a built service's migrations (`node dist/migrate.js`) against `databaseUrl`. */
export function migrateService(dir: string, databaseUrl: string): void {
  execFileSync(process.execPath, [join(dir, 'dist', 'migrate.js')], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: 'pipe',
  });
}
