import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortBlock } from '@workemon/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchMesh, type ServiceSpec } from '../src/mesh.js';
import { isPortFree, lockDataDir, PreflightError } from '../src/preflight.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const launcher = join(root, 'packages/launcher/dist/main.js');

function occupy(port: number): Promise<net.Server> {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => done(server));
  });
}

/** Runs the built launcher to its exit; the launcher must exit by itself. */
function runLauncher(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [launcher], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((done) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr, ms: Date.now() - started });
    }),
  );
}

describe('launcher preflight (a second pnpm start)', () => {
  const dirs: string[] = [];
  const servers: net.Server[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-preflight-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  });
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('when one of its ports is taken, then it exits non-zero within 10 s with one line naming the port, the process and LAUNCHER_BASE_PORT, and creates no data', async () => {
    expect(existsSync(launcher), 'run `pnpm build` first').toBe(true);
    const base = await freePortBlock(4);
    servers.push(await occupy(base + 2));
    const dataDir = join(tempDir(), 'data');

    const { code, stderr, ms } = await runLauncher({
      LAUNCHER_BASE_PORT: String(base),
      LAUNCHER_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    });

    expect(code).toBe(1);
    expect(ms).toBeLessThan(10_000);
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toContain(`port ${base + 2} is already in use`);
    expect(lines[0]).toContain(`pid ${process.pid}`);
    expect(lines[0]).toMatch(/LAUNCHER_BASE_PORT=\d+/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('when another live launcher holds the data directory, then it exits non-zero naming that pid and writes nothing there', async () => {
    const base = await freePortBlock(4);
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'launcher.lock'), String(process.pid));

    const { code, stderr } = await runLauncher({
      LAUNCHER_BASE_PORT: String(base),
      LAUNCHER_DATA_DIR: dataDir,
    });

    expect(code).toBe(1);
    expect(stderr.trim().split('\n'), stderr).toHaveLength(1);
    expect(stderr).toContain(`in use by another launcher (pid ${process.pid})`);
    expect(readdirSync(dataDir)).toEqual(['launcher.lock']);
  });

  it('when the lock was left by a process that is gone, then it is taken over and released again', () => {
    const dataDir = tempDir();
    const gone = spawn(process.execPath, ['-e', '0']);
    writeFileSync(join(dataDir, 'launcher.lock'), String(gone.pid ?? 999_999_999));
    return new Promise<void>((done) =>
      gone.once('exit', () => {
        const lock = lockDataDir(dataDir);
        expect(() => lockDataDir(dataDir)).toThrow(PreflightError);
        lock.release();
        expect(existsSync(join(dataDir, 'launcher.lock'))).toBe(false);
        done();
      }),
    );
  });
});

describe('launcher restarts', () => {
  let fakeRoot: string;
  beforeAll(() => {
    fakeRoot = mkdtempSync(join(tmpdir(), 'wm-restarts-'));
    // A service that answers its readiness probe, then dies a second later — every time (the probe
    // must get through first even on a loaded machine).
    const dir = join(fakeRoot, 'services/flaky/dist');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'main.js'),
      `const http = require('node:http');
       http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () =>
         setTimeout(() => process.exit(3), 1000));`,
    );
    writeFileSync(join(fakeRoot, 'services/flaky/package.json'), '{"type":"commonjs"}');
  });
  afterAll(() => rmSync(fakeRoot, { recursive: true, force: true }));

  it('when a service keeps exiting, then it is restarted a bounded number of times and the mesh reports a fatal error', async () => {
    const base = await freePortBlock(4);
    const lines: string[] = [];
    const services: ServiceSpec[] = [
      { name: 'flaky', dir: 'services/flaky', portOffset: 0, needsDatabase: false },
    ];
    let fatal: (error: Error) => void = () => undefined;
    const fatalError = new Promise<Error>((done) => (fatal = done));

    await launchMesh({
      root: fakeRoot,
      env: { DATABASE_URL: 'postgres://unused' },
      basePort: base,
      dataDir: join(fakeRoot, '.data'),
      pglitePort: 0,
      log: (line) => lines.push(line),
      output: new (await import('node:stream')).PassThrough().resume(),
      services,
      maxRestarts: 2,
      restartBaseDelayMs: 50,
      onFatal: (error) => fatal(error),
    });

    const error = await fatalError;
    expect(error.message).toContain('flaky keeps exiting');
    expect(lines.filter((l) => l.includes('flaky exited (3); restart'))).toHaveLength(2);
    expect(lines.some((l) => l.includes('giving up'))).toBe(true);
    // everything is stopped and the data dir released
    expect(await isPortFree(base)).toBe(true);
    expect(existsSync(join(fakeRoot, '.data/launcher.lock'))).toBe(false);
  });
});
