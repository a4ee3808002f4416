import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, freePort } from '@workemon/testkit';
import { describe, expect, it } from 'vitest';
import { distMain, imageEnv, runScript, spawnService, waitForHttp } from './support/mesh.js';
import { readText, repoPath, run, SERVICES, type ServiceInfo } from './support/repo.js';

/** Dockerfile instructions (continuation lines joined, comments dropped), per stage. */
function parseDockerfile(text: string) {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; as?: string; instructions: { op: string; args: string }[] }[] = [];
  const args: Record<string, string> = {};
  for (const l of lines) {
    const [op, ...rest] = l.split(/\s+/);
    const argText = rest.join(' ');
    const OP = op!.toUpperCase();
    if (OP === 'ARG' && stages.length === 0) {
      const [k, v] = argText.split('=');
      args[k!] = v ?? '';
      continue;
    }
    if (OP === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argText)!;
      const from = m[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ from, ...(m[2] ? { as: m[2] } : {}), instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ op: OP, args: argText });
  }
  return stages;
}

const dockerfile = (s: ServiceInfo) => parseDockerfile(readText('services', s.name, 'Dockerfile'));

describe('services/*/Dockerfile', () => {
  it('when each Dockerfile is read, then it is multi-stage: pnpm@10 via npm, frozen install, build, deploy --prod', () => {
    for (const s of SERVICES) {
      const stages = dockerfile(s);
      expect(stages.length, s.name).toBeGreaterThanOrEqual(2);
      const build = stages[0]!.instructions;
      const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
      expect(
        runs.some((r) => /npm i(nstall)? -g pnpm@10\b/.test(r)),
        s.name,
      ).toBe(true);
      expect(
        runs.some((r) => r.includes('corepack')),
        s.name,
      ).toBe(false);
      expect(
        runs.some((r) => r.includes('pnpm install --frozen-lockfile')),
        s.name,
      ).toBe(true);
      expect(
        runs.some((r) => r.includes(`--filter "${s.pkg}..." run build`)),
        s.name,
      ).toBe(true);
      expect(
        runs.some((r) => new RegExp(`pnpm --filter ${s.pkg} deploy --legacy --prod /out`).test(r)),
        s.name,
      ).toBe(true);
      // every COPY source of the build stage exists in the repository (build context = repo root)
      for (const c of build.filter((i) => i.op === 'COPY')) {
        const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
        for (const src of parts.slice(0, -1))
          expect(existsSync(repoPath(src)), `${s.name}: COPY ${src}`).toBe(true);
      }
    }
  });

  it('when the runtime stage is read, then it is a small Node 20 base, non-root, exposes the port, and runs node dist/main.js in exec form', () => {
    for (const s of SERVICES) {
      const final = dockerfile(s).at(-1)!;
      expect(final.from, s.name).toMatch(/^node:20-(bookworm-slim|alpine)/);
      const ops = (op: string) => final.instructions.filter((i) => i.op === op).map((i) => i.args);
      expect(ops('USER').at(-1), s.name).toMatch(/^(node|\d{3,})$/);
      expect(ops('EXPOSE'), s.name).toEqual([String(s.port)]);
      expect(ops('ENV').join(' '), s.name).toContain(`PORT=${s.port}`);
      expect(JSON.parse(ops('CMD').at(-1)!), s.name).toEqual(['node', 'dist/main.js']);
      const hc = ops('HEALTHCHECK').at(-1)!;
      expect(hc, s.name).toMatch(/CMD \["node", "-e", /);
      expect(hc).toContain(`fetch('http://127.0.0.1:'+(process.env.PORT||${s.port})+'/health')`);
      // only the deployed tree reaches the runtime image
      expect(ops('COPY'), s.name).toEqual(['--from=build --chown=node:node /out/ ./']);
    }
  });

  it('when .dockerignore is read, then node_modules, dist, .env files and git metadata stay out of the context', () => {
    const lines = readText('.dockerignore').split('\n');
    for (const l of ['**/node_modules', '**/dist', '**/.env', '.git']) expect(lines).toContain(l);
  });

  const IMAGE_SERVICE_TOKEN = 'ops-image-service-token-0123456789';

  describe.each(SERVICES)('$name build output', (s) => {
    const built = existsSync(distMain(s));

    it.skipIf(!built)(
      `when built (services/${s.name}/dist/main.js exists), then node dist/main.js with the image env answers /health 200`,
      async () => {
        const port = await freePort();
        const db = s.db ? await createTestDatabase('wm_ops_img') : undefined;
        const env: Record<string, string> = {
          PORT: String(port),
          HOST: '127.0.0.1',
          // Compose and k8s always give SERVICE_TOKEN; without it a service refuses to start.
          SERVICE_TOKEN: IMAGE_SERVICE_TOKEN,
          ...(db ? { DATABASE_URL: db.url } : {}),
        };
        try {
          if (s.db) {
            expect(
              existsSync(repoPath('services', s.name, 'dist/migrate.js')),
              `${s.name}: compose/k8s run dist/migrate.js`,
            ).toBe(true);
            const m = await runScript(s, 'dist/migrate.js', env);
            expect(m.code, [...m.stdout, ...m.stderr].join('\n')).toBe(0);
          }
          const proc = spawnService(s, port, env);
          try {
            await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000, (st) => st === 200, proc);
            const body = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
              service?: string;
              status?: string;
            };
            expect(body.status).toMatch(/^(ok|degraded)$/);
          } finally {
            proc.child.kill('SIGTERM');
            const exit = await Promise.race([
              proc.exit,
              new Promise((r) => setTimeout(() => r('timeout'), 12_000)),
            ]);
            if (exit === 'timeout') proc.child.kill('SIGKILL');
            expect(exit, `${s.name} exits on SIGTERM within the shutdown timeout`).not.toBe('timeout');
          }
        } finally {
          await db?.drop();
        }
      },
    );

    it.skipIf(!built)(
      'when deployed the way the Dockerfile does (pnpm deploy --legacy --prod), then the production tree alone starts and answers /health',
      async () => {
        const out = mkdtempSync(join(tmpdir(), `wm-deploy-${s.name}-`));
        try {
          const r = run(
            'pnpm',
            ['--filter', s.pkg, 'deploy', '--legacy', '--prod', '--prefer-offline', join(out, 'app')],
            { timeoutMs: 170_000 },
          );
          expect(r.code, r.stdout.slice(-2000) + r.stderr.slice(-2000)).toBe(0);
          const app = join(out, 'app');
          expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
          // dev-only tooling stays out of the image
          for (const dev of ['vitest', 'typescript', '@workemon/testkit'])
            expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
          const port = await freePort();
          const db = s.db ? await createTestDatabase('wm_ops_dep') : undefined;
          const { spawn } = await import('node:child_process');
          const child = spawn(process.execPath, ['dist/main.js'], {
            cwd: app,
            env: imageEnv({
              PORT: String(port),
              HOST: '127.0.0.1',
              SERVICE_TOKEN: IMAGE_SERVICE_TOKEN,
              ...(db ? { DATABASE_URL: db.url, MIGRATE_ON_START: 'true' } : {}),
            }),
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          const logs: string[] = [];
          child.stdout.on('data', (d: Buffer) => logs.push(d.toString()));
          child.stderr.on('data', (d: Buffer) => logs.push(d.toString()));
          try {
            await waitForHttp(`http://127.0.0.1:${port}/health/live`, 30_000).catch((e: Error) => {
              throw new Error(`${e.message}\n${logs.join('').slice(-3000)}`);
            });
          } finally {
            child.kill('SIGKILL');
            await db?.drop();
          }
        } finally {
          rmSync(out, { recursive: true, force: true });
        }
      },
      180_000,
    );
  });
});
