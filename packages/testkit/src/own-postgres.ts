import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

/**
 * A throwaway PostgreSQL server of the test's own (initdb in a temp dir, one port), so a test can
 * stop and start the database a service depends on without touching the machine's shared one.
 */
export interface OwnPostgres {
  url: string;
  /** Stops the server (fast shutdown, by the PID we hold) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves when it accepts connections. */
  start(): Promise<void>;
  /** Stops it and deletes its data directory. */
  destroy(): Promise<void>;
}

/** Why an own server cannot run here, or undefined when it can (tests skip with this reason). */
export function ownPostgresUnavailable(): string | undefined {
  if (!postgresBinDir())
    return 'PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin';
  if (process.getuid?.() === 0 && !userIds('postgres'))
    return 'running as root and there is no "postgres" user to run initdb as';
  return undefined;
}

function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  return undefined;
}

function userIds(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(ownPostgresUnavailable());
  // PostgreSQL refuses to run as root: run it as the postgres user then.
  const ids = process.getuid?.() === 0 ? userIds('postgres') : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'wm-own-pg-'));
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    { stdio: 'ignore', ...(ids ?? {}) },
  );
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  const start = async () => {
    const proc = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { stdio: 'ignore', ...(ids ?? {}) },
    );
    child = proc;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`own postgres exited with ${proc.exitCode}`);
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        await client.end();
        return;
      } catch {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error('own postgres did not accept connections within 20 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // SIGINT: fast shutdown (active sessions are terminated, as in a real outage).
    proc.kill('SIGINT');
    await exited;
  };

  await start();
  return {
    url,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
