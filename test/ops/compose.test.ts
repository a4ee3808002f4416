import { existsSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  configKeys,
  dotenvEntries,
  isKnownKey,
  isSecretName,
  readJson,
  readText,
  readYaml,
  repoPath,
  SERVICES,
} from './support/repo.js';

interface ComposeService {
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  image?: string;
  command?: string[];
  init?: boolean;
  restart?: string;
  env_file?: { path: string; required?: boolean }[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  networks?: string[];
  volumes?: string[];
  deploy?: { resources?: { limits?: { cpus?: string; memory?: string } } };
}
interface Compose {
  services: Record<string, ComposeService>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
}
const compose = () => readYaml<Compose>('docker-compose.yml');
const workemon = () => SERVICES.map((s) => ({ ...s, c: compose().services[s.name]! }));

describe('docker-compose.yml', () => {
  it('when validated against the compose-spec JSON schema, then it is valid', () => {
    const schema = readJson<Record<string, unknown>>('test/ops/fixtures/compose-spec.json');
    delete schema.$schema;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    const ok = validate(compose());
    expect(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 1)).toBe(true);
  });

  it('when the stack is listed, then it has postgres, the four services, ELK, filebeat, prometheus, blackbox and grafana on one network', () => {
    const names = Object.keys(compose().services);
    for (const n of [
      'postgres',
      ...SERVICES.map((s) => s.name),
      'elasticsearch',
      'kibana',
      'filebeat',
      'prometheus',
      'blackbox-exporter',
      'grafana',
    ])
      expect(names).toContain(n);
    expect(Object.keys(compose().networks)).toEqual(['workemon']);
    for (const [n, s] of Object.entries(compose().services)) expect(s.networks, n).toEqual(['workemon']);
  });

  it('when ports are published, then only the secretary API, the operator console, Grafana and Kibana (loopback only: Elasticsearch runs without security) are', () => {
    const published = Object.entries(compose().services).filter(([, s]) => s.ports?.length);
    expect(Object.fromEntries(published.map(([n, s]) => [n, s.ports]))).toEqual({
      secretary: ['8000:8000'],
      console: ['8004:8004'],
      grafana: ['3000:3000'],
      kibana: ['127.0.0.1:5601:5601'],
    });
  });

  it('when a service is built, then it uses the one Dockerfile with SERVICE naming a real service, its port, and a matching image name', () => {
    for (const [name, s] of Object.entries(compose().services)) {
      if (!s.build) continue;
      expect(s.build.context, name).toBe('.');
      expect(s.build.dockerfile ?? 'Dockerfile', name).toBe('Dockerfile');
      const svc = SERVICES.find((x) => x.name === s.build?.args?.SERVICE);
      expect(svc, `${name}: build arg SERVICE`).toBeDefined();
      expect(s.build.args?.PORT, name).toBe(String(svc!.port));
      expect(s.image, name).toMatch(new RegExp(`^workemon/${svc!.name}:`));
    }
  });

  it('when the Workemon services run, then each has init, a restart policy, limits, its default port and a /health healthcheck', () => {
    for (const { name, port, c } of workemon()) {
      expect(c.init, name).toBe(true);
      expect(c.restart, name).toBe('unless-stopped');
      expect(c.deploy?.resources?.limits?.memory, name).toBeTruthy();
      expect(c.deploy?.resources?.limits?.cpus, name).toBeTruthy();
      expect(c.environment?.PORT, name).toBe(String(port));
      const test = (c.healthcheck?.test ?? []).join(' ');
      expect(test, name).toContain(`http://127.0.0.1:${port}/health'`);
      expect(c.healthcheck?.test[0], name).toBe('CMD');
      expect(c.healthcheck?.test[1], name).toBe('node');
    }
  });

  it('when services depend on each other, then every dependency exists and its condition can be met', () => {
    const all = compose().services;
    for (const [name, s] of Object.entries(all)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(all[dep], `${name} -> ${dep}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(all[dep]!.healthcheck, `${name} -> ${dep} needs a healthcheck`).toBeDefined();
        if (condition === 'service_completed_successfully')
          expect(all[dep]!.restart, `${dep} is one-shot`).toBe('no');
      }
    }
    expect(all.secretary?.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(all.communicator?.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(all.secretary?.depends_on?.['secretary-migrate']?.condition).toBe(
      'service_completed_successfully',
    );
  });

  it('when postgres is defined, then it keeps data in a volume, has a healthcheck and is not published', () => {
    const pg = compose().services.postgres!;
    expect(pg.volumes?.some((v) => v.endsWith(':/var/lib/postgresql/data'))).toBe(true);
    expect(pg.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(pg.ports).toBeUndefined();
  });

  it('when a Workemon service reads env (compose environment and .env.example), then every key is one its config schema knows', async () => {
    for (const { name, c } of workemon()) {
      const known = await configKeys(name);
      if (!known) throw new Error(`services/${name}/src/config.ts does not exist yet`);
      const fromCompose = Object.keys(c.environment ?? {});
      const fromExample = dotenvEntries(readText('services', name, '.env.example')).map(([k]) => k);
      for (const key of [...fromCompose, ...fromExample])
        expect(isKnownKey(known.keys, key), `${name}: ${key} unknown to its config (${known.source})`).toBe(
          true,
        );
      expect(c.env_file, name).toEqual([{ path: `services/${name}/.env`, required: false }]);
    }
  });

  it('when the compose file and .env.example files are read, then no secret value is committed', () => {
    for (const [name, s] of Object.entries(compose().services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        const v = String(value);
        if (isSecretName(key)) expect(v, `${name}.${key}`).toMatch(/^\$\{[A-Z0-9_]+:\?[^}]*\}$/);
        // credentials embedded in URLs must be interpolated, never literal
        const userinfo = /:\/\/[^/@\s]+:([^@\s]+)@/.exec(v);
        if (userinfo) expect(userinfo[1], `${name}.${key}`).toMatch(/^\$\{[A-Z0-9_]+:\?[^}]*\}$/);
        // a secret variable never gets a default
        for (const m of v.matchAll(/\$\{([A-Z0-9_]+):-/g))
          expect(isSecretName(m[1]!), `${name}.${key} defaults ${m[1]}`).toBe(false);
      }
    }
    for (const { name } of SERVICES) {
      for (const [key, value] of dotenvEntries(readText('services', name, '.env.example'))) {
        if (isSecretName(key) || key === 'DATABASE_URL')
          expect(value, `services/${name}/.env.example ${key}`).toBe('');
      }
    }
    expect(readText('.dockerignore')).toMatch(/^\*\*\/\.env$/m);
  });

  it('when a container command or mount names a repository file, then that file exists', () => {
    for (const [name, s] of Object.entries(compose().services)) {
      for (const v of s.volumes ?? []) {
        if (!v.startsWith('./')) continue;
        expect(existsSync(repoPath(v.split(':')[0]!)), `${name}: ${v}`).toBe(true);
      }
      if (s.command?.[0] === 'node' && s.build) {
        // the command runs inside the deployed service tree: services/<svc>/<file> after pnpm build
        const svc = s.build.args?.SERVICE ?? '';
        const src = s.command[1]!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
        expect(
          existsSync(repoPath('services', svc, src)),
          `${name}: ${s.command.join(' ')} has no source ${src}`,
        ).toBe(true);
      }
    }
  });
});
