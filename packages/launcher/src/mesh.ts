import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { httpGet } from './http-get.js';
// The migrate module alone: the package's index would load drizzle and the pool into the launcher.
import { migrationsPending, migrationsTableFor } from '@workemon/db/migrate';
import { assertPortsFree, lockDataDir } from './preflight.js';
import { SERVICE_NODE_ARGS, withServiceRuntime } from './runtime.js';

export interface ServiceSpec {
  name: string;
  dir: string;
  portOffset: number;
  needsDatabase: boolean;
}

/**
 * The file to run for a service entry (`main.js`, `migrate.js`): its bundle (dist/bundle/, made by
 * `pnpm build`; starts in well under half the CPU time) unless that is older than the compiled
 * file, which a build of one package alone leaves behind.
 */
export function entryFile(serviceDir: string, entry: string): string {
  const compiled = join(serviceDir, 'dist', entry);
  const bundled = join(serviceDir, 'dist', 'bundle', entry);
  const bundleTime = statSync(bundled, { throwIfNoEntry: false })?.mtimeMs;
  const compiledTime = statSync(compiled, { throwIfNoEntry: false })?.mtimeMs;
  return bundleTime !== undefined && (compiledTime === undefined || bundleTime >= compiledTime)
    ? bundled
    : compiled;
}

/** The services `pnpm start` runs; each degrades (never fails) while a peer is not up yet. */
export const SERVICES: ServiceSpec[] = [
  { name: 'guesser', dir: 'services/guesser', portOffset: 1, needsDatabase: false },
  { name: 'system-analyst', dir: 'services/system-analyst', portOffset: 2, needsDatabase: false },
  { name: 'secretary', dir: 'services/secretary', portOffset: 0, needsDatabase: true },
  { name: 'communicator', dir: 'services/communicator', portOffset: 3, needsDatabase: true },
  { name: 'console', dir: 'services/console', portOffset: 4, needsDatabase: true },
];

export interface LaunchOptions {
  root: string;
  env: Record<string, string | undefined>;
  basePort: number;
  dataDir: string;
  pglitePort: number;
  log: (line: string) => void;
  /** Where children's stdout/stderr go (ECS JSON lines). */
  output: NodeJS.WritableStream;
  /** Services to run (default SERVICES); tests pass their own. */
  services?: ServiceSpec[];
  /** Restarts allowed per service before the mesh gives up (a service up for a minute starts a fresh count). */
  maxRestarts?: number;
  /** First restart delay; doubles each time, capped at 30 s. */
  restartBaseDelayMs?: number;
  /** Called once when a service keeps exiting after maxRestarts: the mesh has stopped, the launcher should exit non-zero. */
  onFatal?: (error: Error) => void;
}

export interface RunningMesh {
  urls: Record<string, string>;
  databaseUrl: string;
  apiKey: string;
  /** How to sign in to the console when the launcher created its first admin. */
  consoleAdmin?: { name: string; passwordFile: string };
  stop(): Promise<void>;
}

interface Secrets {
  serviceToken: string;
  apiKey: string;
  /** Writes the user directory (ADMIN_API_KEYS); added to data dirs made before it existed. */
  adminKey: string;
}

/** Generated once per data dir so tokens survive restarts; never printed into service logs. */
function loadOrCreateSecrets(dataDir: string): Secrets {
  const file = join(dataDir, 'secrets.json');
  const stored = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Secrets>) : {};
  const secrets: Secrets = {
    serviceToken: stored.serviceToken ?? randomBytes(24).toString('hex'),
    apiKey: stored.apiKey ?? randomBytes(24).toString('hex'),
    adminKey: stored.adminKey ?? randomBytes(24).toString('hex'),
  };
  if (stored.serviceToken && stored.apiKey && stored.adminKey) return secrets;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  writeFileSync(join(dataDir, 'api-key'), secrets.apiKey, { mode: 0o600 });
  writeFileSync(join(dataDir, 'admin-key'), secrets.adminKey, { mode: 0o600 });
  return secrets;
}

const CONSOLE_ADMIN = 'admin';

/**
 * The console needs operators (OPERATORS / OPERATORS_FILE). When none are configured, the first
 * start creates one admin with a random password (kept in the data dir like the API key) and
 * hashes it with the console's own `hash-password` command, so the launcher needs no KDF of its own.
 */
function ensureConsoleOperators(
  root: string,
  dataDir: string,
  env: Record<string, string | undefined>,
): { operatorsFile: string; passwordFile: string } | undefined {
  if (env.OPERATORS || env.OPERATORS_FILE) return undefined;
  const operatorsFile = join(dataDir, 'console-operators.json');
  const passwordFile = join(dataDir, 'console-admin-password');
  if (existsSync(operatorsFile)) return { operatorsFile, passwordFile };
  const hasher = join(root, 'services/console/dist/hash-password.js');
  if (!existsSync(hasher)) return undefined;
  const password = randomBytes(12).toString('base64url');
  const hashed = spawnSync(process.execPath, [hasher], { input: `${password}\n`, encoding: 'utf8' });
  if (hashed.status !== 0) throw new Error(`console: could not hash the admin password: ${hashed.stderr}`);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  writeFileSync(
    operatorsFile,
    JSON.stringify([{ name: CONSOLE_ADMIN, role: 'admin', password_hash: hashed.stdout.trim() }], null, 2),
    { mode: 0o600 },
  );
  return { operatorsFile, passwordFile };
}

/**
 * Children writing to the launcher's own stdout write straight to it (inherited descriptors): the
 * launcher then does no work per log line. Any other stream (tests capture one) gets pipes.
 */
function childOutput(output: NodeJS.WritableStream): {
  stdio: ['ignore', 'inherit' | 'pipe', 'inherit' | 'pipe'];
  attach: (child: ChildProcess) => void;
} {
  if (output === process.stdout) return { stdio: ['ignore', 'inherit', 'inherit'], attach: () => {} };
  return {
    stdio: ['ignore', 'pipe', 'pipe'],
    attach: (child) => {
      child.stdout?.pipe(output, { end: false });
      child.stderr?.pipe(output, { end: false });
    },
  };
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  output: NodeJS.WritableStream,
): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const { stdio, attach } = childOutput(output);
    const child = spawn(cmd, args, { env, cwd, stdio });
    attach(child);
    child.on('error', reject);
    child.on('exit', (code) => resolvePromise(code ?? 1));
  });
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before becoming ready`);
    try {
      const res = await httpGet(`${url}/health/live`, 1000);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not ready within ${timeoutMs} ms`);
}

/**
 * Every built service as a child process bound to 127.0.0.1. Those without a database start at once;
 * the embedded database starts meanwhile, then the migrations (side by side: each service has its own
 * bookkeeping table and advisory lock), then the services that need the database.
 */
export async function launchMesh(options: LaunchOptions): Promise<RunningMesh> {
  const { root, log } = options;
  const services = options.services ?? SERVICES;
  const maxRestarts = options.maxRestarts ?? 5;
  const restartBaseDelayMs = options.restartBaseDelayMs ?? 500;
  const available = services.filter((s) => existsSync(join(root, s.dir, 'dist/main.js')));
  if (available.length === 0) throw new Error('No built services found: run `pnpm build` first');
  const dataDir = resolve(root, options.dataDir);

  // Before anything starts or is written: our ports are free and no other launcher uses the data dir.
  const portCount = Math.max(...services.map((s) => s.portOffset)) + 1;
  await assertPortsFree(options.basePort, portCount, options.env.DATABASE_URL ? [] : [options.pglitePort]);
  const lock = lockDataDir(dataDir);

  let embedded: EmbeddedPostgres | undefined;
  let secrets: Secrets;
  try {
    secrets = loadOrCreateSecrets(dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }

  const urlOf = (s: ServiceSpec) => `http://127.0.0.1:${options.basePort + s.portOffset}`;
  const byName = Object.fromEntries(SERVICES.map((s) => [s.name, urlOf(s)]));
  const baseEnv: NodeJS.ProcessEnv = {
    ...options.env,
    HOST: options.env.HOST ?? '127.0.0.1',
    SERVICE_TOKEN: options.env.SERVICE_TOKEN ?? secrets.serviceToken,
    API_KEYS: options.env.API_KEYS ?? secrets.apiKey,
    ADMIN_API_KEYS: options.env.ADMIN_API_KEYS ?? secrets.adminKey,
    GUESSER_URL: byName.guesser,
    SYSTEM_ANALYST_URL: byName['system-analyst'],
    SECRETARY_URL: byName.secretary,
    COMMUNICATOR_URL: byName.communicator,
  };

  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const ready = new Set<string>();
  const serviceOutput = childOutput(options.output);
  const start = (s: ServiceSpec, env: NodeJS.ProcessEnv, restarts: number): ChildProcess => {
    const startedAt = Date.now();
    const dir = join(root, s.dir);
    const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, entryFile(dir, 'main.js')], {
      cwd: dir,
      env: withServiceRuntime({ ...env, PORT: String(options.basePort + s.portOffset) }),
      stdio: serviceOutput.stdio,
    });
    serviceOutput.attach(child);
    child.on('exit', (code, signal) => {
      // During start-up waitHealthy reports the exit; afterwards a crash is restarted, but not forever.
      if (stopping || !ready.has(s.name)) return;
      const count = Date.now() - startedAt > 60_000 ? 0 : restarts;
      if (count >= maxRestarts) {
        log(`${s.name} exited (${signal ?? code}) ${count + 1} times in a row; giving up`);
        void stop().then(() =>
          options.onFatal?.(
            new Error(`${s.name} keeps exiting (${signal ?? code}); see its log lines above`),
          ),
        );
        return;
      }
      const delay = Math.min(30_000, restartBaseDelayMs * 2 ** count);
      log(`${s.name} exited (${signal ?? code}); restart ${count + 1} of ${maxRestarts} in ${delay} ms`);
      setTimeout(() => {
        if (!stopping) children.set(s.name, start(s, env, count + 1));
      }, delay).unref();
    });
    children.set(s.name, child);
    return child;
  };
  const waitReady = (s: ServiceSpec, child: ChildProcess) =>
    waitHealthy(urlOf(s), child, 30_000).then(
      () => ready.add(s.name),
      (error: Error) => {
        throw new Error(`${s.name}: ${error.message}`);
      },
    );

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopped ??= stopAll());
  const stopAll = async () => {
    stopping = true;
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const kill = setTimeout(() => child.kill('SIGKILL'), 12_000);
            child.once('exit', () => {
              clearTimeout(kill);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await embedded?.stop();
    lock.release();
  };

  let databaseUrl = options.env.DATABASE_URL;
  let consoleOperators: ReturnType<typeof ensureConsoleOperators>;
  try {
    // No service needs another to start (they degrade until their peers answer), and those without
    // a database need nothing else either: they start while the database does.
    const withoutDatabase = available.filter((s) => !s.needsDatabase);
    const withDatabase = available.filter((s) => s.needsDatabase);
    const readiness = withoutDatabase.map((s) => waitReady(s, start(s, baseEnv, 0)));
    // A failure here is reported after the database side settles (stop() then ends everything).
    const earlyReady = Promise.all(readiness);
    earlyReady.catch(() => {});

    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres(join(dataDir, 'pglite'), options.pglitePort);
      databaseUrl = embedded.url;
      log(`embedded PostgreSQL (PGlite) on ${databaseUrl} with data in ${join(dataDir, 'pglite')}`);
    }
    consoleOperators = ensureConsoleOperators(root, dataDir, options.env);
    const dbEnv: NodeJS.ProcessEnv = {
      ...baseEnv,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      ...(embedded ? { DATABASE_POOL_MAX: options.env.DATABASE_POOL_MAX ?? '5' } : {}),
      ...(consoleOperators ? { OPERATORS_FILE: consoleOperators.operatorsFile } : {}),
    };

    const withMigrations = withDatabase.filter((s) => existsSync(join(root, s.dir, 'dist/migrate.js')));
    // A restart almost never has a migration to apply: one query per service here (side by side),
    // instead of a process each on the way to the services. Any doubt (the check failing) runs the migrator.
    const pending = await Promise.all(
      withMigrations.map((s) =>
        migrationsPending({
          databaseUrl: databaseUrl ?? '',
          migrationsFolder: join(root, s.dir, 'drizzle'),
          migrationsTable: migrationsTableFor(s.name),
        }).catch(() => true),
      ),
    );
    const migrating = withMigrations.filter((_, i) => pending[i]);
    const current = withMigrations.filter((_, i) => !pending[i]);
    if (current.length > 0) log(`schema up to date: ${current.map((s) => s.name).join(', ')}`);
    if (migrating.length > 0) log(`migrating ${migrating.map((s) => s.name).join(', ')}…`);
    const failed = (
      await Promise.all(
        migrating.map(async (s) => {
          const dir = join(root, s.dir);
          const code = await run(
            process.execPath,
            [entryFile(dir, 'migrate.js')],
            dbEnv,
            dir,
            options.output,
          );
          return code === 0 ? undefined : `migrations for ${s.name} failed (exit ${code})`;
        }),
      )
    ).filter((f) => f !== undefined);
    if (failed.length > 0) throw new Error(failed.join('; '));

    await Promise.all([earlyReady, ...withDatabase.map((s) => waitReady(s, start(s, dbEnv, 0)))]);
    for (const s of available) log(`${s.name.padEnd(15)} ${urlOf(s)}`);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    urls: Object.fromEntries(available.map((s) => [s.name, urlOf(s)])),
    databaseUrl: databaseUrl ?? '',
    apiKey: (options.env.API_KEYS ?? secrets.apiKey).split(',')[0] ?? '',
    ...(consoleOperators && existsSync(consoleOperators.passwordFile)
      ? { consoleAdmin: { name: CONSOLE_ADMIN, passwordFile: consoleOperators.passwordFile } }
      : {}),
    stop,
  };
}
