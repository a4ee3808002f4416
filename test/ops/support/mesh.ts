import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { SERVICE_RUNTIME_ENV } from '@workemon/launcher';
import {
  createTestDatabase,
  freePort,
  startFakeLlm,
  type FakeLlm,
  type TestDatabase,
} from '@workemon/testkit';
import { repoPath, SERVICES, type ServiceInfo } from './repo.js';

/**
 * Starts Workemon services as real processes from their built dist/ (what the Docker image runs:
 * `node dist/main.js` in the service directory), on free 127.0.0.1 ports, with a fake OpenAI-compatible
 * LLM and a fresh PostgreSQL database. Reusable by any root-level test: startMesh() … mesh.stop().
 */
export interface ServiceProcess {
  service: ServiceInfo;
  port: number;
  url: string;
  child: ChildProcess;
  /** stdout, one entry per line (the service's log lines) */
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Mesh {
  services: Record<string, ServiceProcess>;
  llm: FakeLlm;
  db: TestDatabase | undefined;
  /** bearer key accepted by the secretary's API (API_KEYS) */
  apiKey: string;
  serviceToken: string;
  /** SIGTERM every service; resolves with each exit (SIGKILL after the grace period). */
  stop(): Promise<Record<string, { code: number | null; signal: NodeJS.Signals | null; ms: number }>>;
}

export interface StartMeshOptions {
  /** Subset of services (default all four). Services outside the subset get unreachable URLs. */
  only?: string[];
  /** Extra env for every service. */
  env?: Record<string, string>;
  logLevel?: string;
  startTimeoutMs?: number;
}

export const distMain = (svc: ServiceInfo) => repoPath('services', svc.name, 'dist/main.js');
export const missingDist = () => SERVICES.filter((s) => !existsSync(distMain(s))).map((s) => s.name);

/** The environment a container would get: nothing inherited but PATH/HOME, plus the given values. */
export function imageEnv(values: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    // What the image's ENV sets for every service (the launcher's SERVICE_RUNTIME_ENV).
    ...SERVICE_RUNTIME_ENV,
    ...values,
  };
}

function collectLines(stream: NodeJS.ReadableStream, into: string[]) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      into.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (buf) into.push(buf);
  });
}

/** Runs `node dist/<script>` in a service dir to completion (bounded). */
export async function runScript(
  svc: ServiceInfo,
  script: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
) {
  const child = spawn(process.execPath, [script], {
    cwd: repoPath('services', svc.name),
    env: imageEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const err: string[] = [];
  collectLines(child.stdout!, out);
  collectLines(child.stderr!, err);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout: out, stderr: err };
}

export function spawnService(svc: ServiceInfo, port: number, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: repoPath('services', svc.name),
    env: imageEnv({ PORT: String(port), HOST: '127.0.0.1', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  collectLines(child.stdout!, stdout);
  collectLines(child.stderr!, stderr);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { service: svc, port, url: `http://127.0.0.1:${port}`, child, stdout, stderr, exit };
}

/** Polls GET url until it answers `ok(status)`; bounded. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  ok = (status: number) => status === 200,
  proc?: ServiceProcess,
) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc && proc.child.exitCode !== null) {
      throw new Error(
        `${proc.service.name} exited with ${proc.child.exitCode} before ${url} answered:\n${[...proc.stdout, ...proc.stderr].slice(-20).join('\n')}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
      if (ok(res.status)) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (last: ${last})`);
}

async function stopProcess(p: ServiceProcess, graceMs: number) {
  const started = Date.now();
  if (p.child.exitCode !== null || p.child.signalCode !== null) return { ...(await p.exit), ms: 0 };
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  const result = await p.exit;
  clearTimeout(timer);
  return { ...result, ms: Date.now() - started };
}

export async function startMesh(options: StartMeshOptions = {}): Promise<Mesh> {
  const chosen = SERVICES.filter((s) => !options.only || options.only.includes(s.name));
  const missing = chosen.filter((s) => !existsSync(distMain(s)));
  if (missing.length) throw new Error(`not built: ${missing.map((s) => s.name).join(', ')} (run pnpm build)`);

  const llm = await startFakeLlm();
  const db = chosen.some((s) => s.db) ? await createTestDatabase('wm_ops') : undefined;
  const apiKey = `ops-${randomBytes(12).toString('hex')}`;
  const serviceToken = randomBytes(24).toString('hex');
  const ports: Record<string, number> = {};
  for (const s of SERVICES) ports[s.name] = await freePort();
  const url = (name: string) => `http://127.0.0.1:${ports[name]}`;

  const envFor = (s: ServiceInfo): Record<string, string> => {
    const common = {
      LOG_LEVEL: options.logLevel ?? 'info',
      SERVICE_TOKEN: serviceToken,
      ...(options.env ?? {}),
    };
    switch (s.name) {
      case 'secretary':
        return {
          ...common,
          DATABASE_URL: db!.url,
          API_KEYS: apiKey,
          GUESSER_URL: url('guesser'),
          SYSTEM_ANALYST_URL: url('system-analyst'),
          COMMUNICATOR_URL: url('communicator'),
        };
      case 'communicator':
        return { ...common, DATABASE_URL: db!.url, SECRETARY_URL: url('secretary') };
      case 'console':
        return {
          ...common,
          DATABASE_URL: db!.url,
          SECRETARY_URL: url('secretary'),
          COMMUNICATOR_URL: url('communicator'),
        };
      default:
        return {
          ...common,
          LLM_PROVIDER: 'custom',
          LLM_BASE_URL: llm.url,
          LLM_API_KEY: 'fake-llm-key',
          LLM_MODEL: 'fake-model',
        };
    }
  };

  const started: Record<string, ServiceProcess> = {};
  const mesh: Mesh = {
    services: started,
    llm,
    db,
    apiKey,
    serviceToken,
    stop: async () => {
      const results: Record<string, { code: number | null; signal: NodeJS.Signals | null; ms: number }> = {};
      await Promise.all(
        Object.values(started).map(async (p) => {
          results[p.service.name] = await stopProcess(p, 12_000);
        }),
      );
      await llm.close();
      await db?.drop().catch(() => undefined);
      return results;
    },
  };

  try {
    // Migrations first, as compose (one-shot) and k8s (init container) do.
    for (const s of chosen.filter((c) => c.db)) {
      if (!existsSync(repoPath('services', s.name, 'dist/migrate.js'))) continue;
      const r = await runScript(s, 'dist/migrate.js', { DATABASE_URL: db!.url });
      if (r.code !== 0)
        throw new Error(`${s.name} migrate failed (${r.code}):\n${[...r.stdout, ...r.stderr].join('\n')}`);
    }
    for (const s of chosen) started[s.name] = spawnService(s, ports[s.name]!, envFor(s));
    await Promise.all(
      Object.values(started).map((p) =>
        waitForHttp(`${p.url}/health/live`, options.startTimeoutMs ?? 30_000, (st) => st === 200, p),
      ),
    );
    return mesh;
  } catch (error) {
    await mesh.stop();
    throw error;
  }
}

/** Parsed JSON stdout lines (non-JSON lines are returned as {raw}). */
export function jsonLines(p: ServiceProcess): Record<string, unknown>[] {
  return p.stdout
    .filter((l) => l.trim())
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { raw: l };
      }
    });
}
