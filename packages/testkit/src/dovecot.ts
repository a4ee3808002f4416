import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.js';

export interface DovecotUser {
  user: string;
  password: string;
}

export interface Dovecot {
  host: string;
  /** Plain IMAP port (imapflow upgrades with STARTTLS; pass rejectUnauthorized:false). */
  port: number;
  /** Implicit-TLS IMAP port (self-signed certificate). */
  tlsPort: number;
  users: DovecotUser[];
  dir: string;
  /** Saves one raw message into the user's mailbox via `doveadm save`. */
  deliver(user: string, raw: string | Buffer, mailbox?: string): Promise<void>;
  /** Drops many messages straight into the user's Maildir/new (dovecot assigns UIDs on the next scan). */
  deliverMany(user: string, raws: (string | Buffer)[]): void;
  /**
   * Runs `doveadm -c CONF …` against this instance's storage (works while the server is stopped),
   * e.g. `doveadm('mailbox', 'update', '-u', user, '--uid-validity', '42', 'INBOX')`. Returns stdout.
   */
  doveadm(...args: string[]): string;
  /** Stops and starts the server on the same ports (clients see their connections drop). */
  restart(): Promise<void>;
  /** Stops the server; start() brings it back. */
  stopServer(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartDovecotOptions {
  users?: DovecotUser[];
}

const NOBODY_UID = 65534;
const NOGROUP_GID = 65534;

/** True when the Debian dovecot binaries are present (scripts/setup-test-peers.sh installs them). */
export function dovecotAvailable(): boolean {
  try {
    execFileSync('dovecot', ['--version'], { stdio: 'ignore' });
    execFileSync('doveadm', ['-c', '/dev/null', 'help'], { stdio: 'ignore' });
    return true;
  } catch {
    return existsSync('/usr/sbin/dovecot');
  }
}

/** Pids of all descendants of `root`, read from /proc (Linux). */
function descendants(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = parents.get(ppid) ?? [];
      list.push(Number(entry));
      parents.set(ppid, list);
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0 && found.length < 1000) {
    for (const child of parents.get(queue.shift() ?? -1) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A real Dovecot (Debian dovecot-imapd) on loopback, configured in a temp dir:
 * passwd-file users, maildir storage, self-signed TLS. Runs in the foreground
 * (`-F`) as a child of the test process so stop() is a plain kill.
 */
export async function startDovecot(options: StartDovecotOptions = {}): Promise<Dovecot> {
  const users = options.users ?? [
    { user: 'support@example.test', password: 'secret' },
    { user: 'alice@example.test', password: 'secret' },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'wm-dovecot-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const tlsPort = await freePort();
  const mailRoot = join(dir, 'mail');
  mkdirSync(mailRoot, { recursive: true });
  chownSync(mailRoot, NOBODY_UID, NOGROUP_GID);
  for (const sub of ['base', 'state']) mkdirSync(join(dir, sub), { recursive: true });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  writeFileSync(join(dir, 'passwd'), users.map((u) => `${u.user}:{PLAIN}${u.password}`).join('\n') + '\n');
  const conf = join(dir, 'dovecot.conf');
  // One setting per line: dovecot rejects a setting on the same line as "{".
  writeFileSync(
    conf,
    `base_dir = ${join(dir, 'base')}
state_dir = ${join(dir, 'state')}
log_path = ${join(dir, 'dovecot.log')}
instance_name = wm-${randomBytes(4).toString('hex')}
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <${join(dir, 'cert.pem')}
ssl_key = <${join(dir, 'key.pem')}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${join(dir, 'passwd')}
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${mailRoot}/%u
}
service imap-login {
  inet_listener imap {
    port = ${port}
  }
  inet_listener imaps {
    port = ${tlsPort}
    ssl = yes
  }
}
service anvil {
  chroot =
}
protocol imap {
  mail_max_userip_connections = 100
}
`,
  );

  let child: ChildProcess | undefined;
  const start = async () => {
    if (child) return;
    const proc = spawn('dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child = proc;
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    await waitFor(async () => (await portAccepts(port)) && (await portAccepts(tlsPort)), 10_000, 25).catch(
      (error: unknown) => {
        throw new Error(`dovecot did not start: ${(error as Error).message}\n${stderr}`);
      },
    );
  };
  const stopServer = async () => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    // Serving imap processes outlive the master; collect them (by pid) to end them too, like a real restart.
    const workers = proc.pid === undefined ? [] : descendants(proc.pid);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
      }, 3_000);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Wait until the listener is really gone so a restart can bind the same port.
    await waitFor(async () => !(await portAccepts(port)), 5_000, 25).catch(() => undefined);
  };

  const ensureMaildir = (user: string) => {
    const home = join(mailRoot, user);
    const maildir = join(home, 'Maildir');
    for (const d of [home, maildir, join(maildir, 'new'), join(maildir, 'cur'), join(maildir, 'tmp')]) {
      if (!existsSync(d)) {
        mkdirSync(d, { recursive: true });
        chownSync(d, NOBODY_UID, NOGROUP_GID);
      }
    }
    return maildir;
  };

  let sequence = 0;
  const deliver = async (user: string, raw: string | Buffer, mailbox = 'INBOX') => {
    await new Promise<void>((resolve, reject) => {
      const proc = spawn('doveadm', ['-c', conf, 'save', '-u', user, '-m', mailbox], {
        stdio: ['pipe', 'ignore', 'pipe'],
      });
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      proc.once('error', reject);
      proc.once('exit', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`doveadm save failed (${code}): ${stderr}`));
      });
      proc.stdin.end(raw);
    });
  };
  const deliverMany = (user: string, raws: (string | Buffer)[]) => {
    const maildir = ensureMaildir(user);
    for (const raw of raws) {
      sequence += 1;
      const name = `${Date.now()}.M${sequence}P${process.pid}.wmtest`;
      const tmpPath = join(maildir, 'tmp', name);
      writeFileSync(tmpPath, raw);
      chownSync(tmpPath, NOBODY_UID, NOGROUP_GID);
      // Maildir delivery protocol: write into tmp/, then rename into new/.
      renameSync(tmpPath, join(maildir, 'new', name));
    }
  };

  await start();
  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    users,
    dir,
    deliver,
    deliverMany,
    doveadm: (...args: string[]) =>
      execFileSync('doveadm', ['-c', conf, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    restart: async () => {
      await stopServer();
      await start();
    },
    stopServer,
    start,
    stop: async () => {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
