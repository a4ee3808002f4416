import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, freePort } from '@workemon/testkit';
import { DockerfileParser, type Env, type Instruction } from 'dockerfile-ast';
import { SERVICE_NODE_ARGS, SERVICE_RUNTIME_ENV } from '@workemon/launcher';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distMain, imageEnv, runScript, spawnService, waitForHttp } from './support/mesh.js';
import { readJson, readText, repoPath, run, SERVICES } from './support/repo.js';

/**
 * The one Dockerfile, linted by dockerfile-utils and read with its parser dockerfile-ast (hadolint is
 * not packaged for Debian or npm). The checks are the properties that matter: a supported Node LTS, a dependency layer
 * that source changes do not invalidate, a reproducible install, a non-root runtime with only the
 * deployed tree, and an exec-form command.
 */
const KNOWN = new Set([
  'FROM',
  'ARG',
  'ENV',
  'RUN',
  'COPY',
  'WORKDIR',
  'USER',
  'EXPOSE',
  'HEALTHCHECK',
  'CMD',
]);
const text = readText('Dockerfile');
const dockerfile = DockerfileParser.parse(text);
/** An instruction's flags and arguments, continuation lines joined. */
const args = (i: Instruction) =>
  [
    ...((i as Instruction & { getFlags?: () => { toString(): string }[] }).getFlags?.() ?? []).map(String),
    i.getArgumentsContent() ?? '',
  ].join(' ');

interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** Stages with their base image (global ARG defaults substituted) and their instructions. */
function stages(): Stage[] {
  const all = dockerfile.getInstructions();
  const firstFrom = all.findIndex((i) => i.getKeyword() === 'FROM');
  const globals = Object.fromEntries(
    all
      .slice(0, firstFrom)
      .filter((i) => i.getKeyword() === 'ARG')
      .map((i) => args(i).split('=') as [string, string]),
  );
  const result: Stage[] = [];
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const [image = '', , name = ''] = args(i).split(/\s+/);
      result.push({
        name,
        image: image.replace(/\$\{(\w+)\}/g, (_, k: string) => globals[k] ?? ''),
        instructions: [],
      });
    } else result.at(-1)?.instructions.push(i);
  }
  return result;
}
const stage = (name: string) => {
  const found = stages().find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
};
const ops = (s: Stage, op: string) => s.instructions.filter((i) => i.getKeyword() === op).map(args);

describe('Dockerfile (one recipe, ARG SERVICE)', () => {
  it('when linted, then it has no problems, only known instructions, and no per-service copies remain', () => {
    const problems = validate(text, {
      instructionCasing: ValidationSeverity.ERROR,
      instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
      emptyContinuationLine: ValidationSeverity.ERROR,
      instructionCmdMultiple: ValidationSeverity.ERROR,
      instructionHealthcheckMultiple: ValidationSeverity.ERROR,
      deprecatedMaintainer: ValidationSeverity.ERROR,
    });
    expect(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
    expect(dockerfile.getInstructions().length).toBeGreaterThan(10);
    for (const i of dockerfile.getInstructions()) expect(KNOWN, i.getKeyword()).toContain(i.getKeyword());
    for (const s of SERVICES)
      expect(existsSync(repoPath('services', s.name, 'Dockerfile')), s.name).toBe(false);
    expect(stages().map((s) => s.name)).toEqual(['deps', 'build', 'runtime']);
  });

  it('when the base images are read, then every stage runs a current Node LTS (even major >= 22, slim), never an unpinned tag', () => {
    const engines = (readJson('package.json') as { engines: { node: string } }).engines.node;
    const minLocal = Number(/(\d+)/.exec(engines)?.[1]);
    for (const s of stages().filter((x) => x.image !== 'deps')) {
      const m = /^node:(\d+)-(bookworm-slim|trixie-slim|alpine)$/.exec(s.image);
      expect(m, `${s.name}: ${s.image}`).not.toBeNull();
      const major = Number(m![1]);
      expect(major % 2, `${s.name}: LTS lines are even`).toBe(0);
      expect(major, s.name).toBeGreaterThanOrEqual(22);
      // engines stays the honest floor for local use; the image is never older than it
      expect(major).toBeGreaterThanOrEqual(minLocal);
    }
  });

  it('when the dependency stage is read, then only the lockfile and workspace settings reach `pnpm fetch`, so source changes keep the layer cached', () => {
    const deps = stage('deps');
    const copies = ops(deps, 'COPY');
    expect(copies).toEqual(['pnpm-lock.yaml pnpm-workspace.yaml ./']);
    const runs = ops(deps, 'RUN');
    expect(runs.some((r) => /^pnpm fetch\b/.test(r))).toBe(true);
    const order = deps.instructions.map((i) => `${i.getKeyword()} ${args(i)}`);
    expect(order.findIndex((l) => l.startsWith('COPY'))).toBeLessThan(
      order.findIndex((l) => l.startsWith('RUN pnpm fetch')),
    );
    // pnpm pinned to the repository's packageManager, installed with npm (corepack's signature check fails here)
    const pm = (readJson('package.json') as { packageManager: string }).packageManager;
    expect(runs.some((r) => r.includes(`npm i -g ${pm}`))).toBe(true);
    for (const i of dockerfile.getInstructions()) expect(args(i)).not.toMatch(/corepack/i);
  });

  it('when the build stage is read, then it installs offline from the frozen lockfile, builds and deploys the SERVICE it was given', () => {
    const build = stage('build');
    expect(ops(build, 'ARG')).toContain('SERVICE');
    const runs = ops(build, 'RUN').join('\n');
    expect(runs).toContain('pnpm install --frozen-lockfile --offline');
    expect(runs).toContain('pnpm --filter "@workemon/${SERVICE}..." run build');
    expect(runs).toMatch(/pnpm --filter "@workemon\/\$\{SERVICE\}" deploy --legacy --prod \/out/);
    // every COPY source exists (build context = repository root)
    for (const c of ops(build, 'COPY')) {
      const parts = c.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(repoPath(src)), `COPY ${src}`).toBe(true);
    }
  });

  it('when the runtime stage is read, then it is non-root, holds only the deployed tree, has a /health healthcheck and runs node dist/main.js in exec form', () => {
    const runtime = stage('runtime');
    expect(ops(runtime, 'USER').at(-1)).toMatch(/^(node|[1-9]\d{2,})$/);
    expect(ops(runtime, 'COPY')).toEqual(['--from=build --chown=node:node /out/ ./']);
    // The launcher's node arguments too (packages/launcher/src/runtime.ts): one definition.
    expect(JSON.parse(ops(runtime, 'CMD').at(-1) ?? '[]')).toEqual([
      'node',
      ...SERVICE_NODE_ARGS,
      'dist/main.js',
    ]);
    expect(ops(runtime, 'HEALTHCHECK').at(-1)).toMatch(/CMD \["node", "-e", .*process\.env\.PORT.*\/health/);
    expect(ops(runtime, 'EXPOSE')).toEqual(['${PORT}']);
    // no secret is baked into an image layer
    for (const i of dockerfile.getInstructions().filter((x) => ['ENV', 'ARG'].includes(x.getKeyword())))
      expect(args(i), args(i)).not.toMatch(/PASSWORD|TOKEN|SECRET|API_KEY/i);
  });

  it('when the runtime stage is read, then its ENV carries exactly the runtime settings the launcher gives its services (one definition; compose and k8s set only config keys, so they inherit it)', () => {
    const env = Object.fromEntries(
      stage('runtime')
        .instructions.filter((i) => i.getKeyword() === 'ENV')
        .flatMap((i) => (i as Env).getProperties().map((p) => [p.getName(), p.getValue()])),
    );
    for (const [name, value] of Object.entries(SERVICE_RUNTIME_ENV)) expect(env[name], name).toBe(value);
    for (const name of [
      'NODE_OPTIONS',
      'MALLOC_ARENA_MAX',
      'MALLOC_MMAP_THRESHOLD_',
      'MALLOC_TRIM_THRESHOLD_',
    ])
      expect(env[name], `${name} is set in the Dockerfile but not in SERVICE_RUNTIME_ENV`).toBe(
        SERVICE_RUNTIME_ENV[name],
      );
  });

  it('when .dockerignore is read, then node_modules, dist, .env files and git metadata stay out of the context', () => {
    const lines = readText('.dockerignore').split('\n');
    for (const l of ['**/node_modules', '**/dist', '**/.env', '.git']) expect(lines).toContain(l);
  });
});

const IMAGE_SERVICE_TOKEN = 'ops-image-service-token-0123456789';

describe.each(SERVICES)('$name image contents (built by the test run’s global setup)', (s) => {
  it(`when built, then node dist/main.js with the image env answers /health 200 and exits on SIGTERM`, async () => {
    expect(existsSync(distMain(s)), 'globalSetup builds every project').toBe(true);
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
          'compose/k8s run dist/migrate.js',
        ).toBe(true);
        const m = await runScript(s, 'dist/migrate.js', env);
        expect(m.code, [...m.stdout, ...m.stderr].join('\n')).toBe(0);
      }
      const proc = spawnService(s, port, env);
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000, (st) => st === 200, proc);
        const body = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status?: string };
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
  });
});

describe('pnpm deploy --legacy --prod (what the Dockerfile runs)', () => {
  const out = mkdtempSync(join(tmpdir(), 'wm-deploy-'));
  const deployed: Record<string, { code: number; log: string }> = {};

  // One deploy per service before the tests; the tests only start what was deployed.
  beforeAll(() => {
    for (const s of SERVICES) {
      const r = run(
        'pnpm',
        ['--filter', s.pkg, 'deploy', '--legacy', '--prod', '--prefer-offline', join(out, s.name)],
        {
          timeoutMs: 170_000,
        },
      );
      deployed[s.name] = { code: r.code, log: r.stdout.slice(-2000) + r.stderr.slice(-2000) };
    }
  }, 600_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(SERVICES)(
    'when $name is deployed, then the production tree alone (no dev tooling) starts and answers /health',
    async (s) => {
      expect(deployed[s.name]?.code, deployed[s.name]?.log).toBe(0);
      const app = join(out, s.name);
      expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
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
    },
    60_000,
  );
});
