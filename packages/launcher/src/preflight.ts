import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

/**
 * Checks a launcher makes before it starts or writes anything: its ports are free and its data
 * directory is not used by another launcher. Both fail with one line that says what to do.
 */
export class PreflightError extends Error {
  override name = 'PreflightError';
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** Which process listens on a TCP port, from /proc (Linux); undefined when unknown or not permitted. */
export function portOwner(port: number): string | undefined {
  try {
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    const inodes = new Set<string>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text = '';
      try {
        text = readFileSync(table, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        // local_address is HEX_IP:HEX_PORT, state 0A is LISTEN, inode is column 9
        if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9])
          inodes.add(`socket:[${cols[9]}]`);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let target = '';
        try {
          target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        if (inodes.has(target)) {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
          return `pid ${pid}${cmd ? ` (${cmd.length > 80 ? `${cmd.slice(0, 77)}…` : cmd})` : ''}`;
        }
      }
    }
  } catch {
    // best effort: the port number alone is still a clear message
  }
  return undefined;
}

async function freeBlockFrom(start: number, size: number): Promise<number | undefined> {
  for (let base = start; base + size < 65_536; base += 100) {
    const free = await Promise.all(Array.from({ length: size }, (_, i) => isPortFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  return undefined;
}

/** Fails with one line naming the first busy port, its process when known, and a base port that is free. */
export async function assertPortsFree(basePort: number, count: number, extra: number[] = []): Promise<void> {
  const ports = [...Array.from({ length: count }, (_, i) => basePort + i), ...extra.filter((p) => p > 0)];
  for (const port of ports) {
    if (await isPortFree(port)) continue;
    const owner = portOwner(port);
    const suggestion = await freeBlockFrom(Math.max(basePort + 1000, 9000), count);
    throw new PreflightError(
      `port ${port} is already in use${owner ? ` by ${owner}` : ''}: stop it, or start on other ports with LAUNCHER_BASE_PORT=${suggestion ?? basePort + 1000}`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive but someone else's
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DataDirLock {
  release(): void;
}

/**
 * An exclusive lock on the data directory: a file created with O_EXCL holding our pid. A lock left by a
 * process that is gone (kill -9, power loss) is taken over; one held by a live process is refused.
 */
export function lockDataDir(dataDir: string, envName = 'LAUNCHER_DATA_DIR'): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'launcher.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return {
        release: () => {
          try {
            if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new PreflightError(
          `data directory ${dataDir} is in use by another launcher (pid ${holder}): stop it, or use another directory with ${envName}=…`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new PreflightError(`could not lock data directory ${dataDir} (${file})`);
}
