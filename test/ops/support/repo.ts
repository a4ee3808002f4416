import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { objectKeys } from '@workemon/config';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

/** Repository root (test/ops/support → ../../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = join(ROOT, 'test/ops/fixtures');

export interface ServiceInfo {
  /** directory under services/ and compose/k8s name */
  name: string;
  pkg: string;
  port: number;
  /** owns a Postgres schema: needs DATABASE_URL and runs dist/migrate.js first */
  db: boolean;
}

/** The services (docs/architecture.md). */
export const SERVICES: ServiceInfo[] = [
  { name: 'secretary', pkg: '@workemon/secretary', port: 8000, db: true },
  { name: 'guesser', pkg: '@workemon/guesser', port: 8001, db: false },
  { name: 'system-analyst', pkg: '@workemon/system-analyst', port: 8002, db: false },
  { name: 'communicator', pkg: '@workemon/communicator', port: 8003, db: true },
  { name: 'console', pkg: '@workemon/console', port: 8004, db: true },
];

export const repoPath = (...parts: string[]) => join(ROOT, ...parts);
export const readText = (...parts: string[]) => readFileSync(repoPath(...parts), 'utf8');
export const readJson = <T = unknown>(...parts: string[]) => JSON.parse(readText(...parts)) as T;
export const readYaml = <T = unknown>(...parts: string[]) =>
  parseYaml(readText(...parts), { merge: true }) as T;
export const readYamlAll = (text: string) =>
  parseAllDocuments(text, { merge: true })
    .map((d) => d.toJS() as unknown)
    .filter((d) => d !== null && d !== undefined);

/** Absolute path of an executable on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = join(dir, cmd);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Fails loudly (not a skip) when a real peer the ops tests need is missing. */
export function requireTool(cmd: string): string {
  const path = which(cmd);
  if (!path)
    throw new Error(
      `${cmd} is not installed: run scripts/setup-test-peers.sh (apt: prometheus prometheus-blackbox-exporter)`,
    );
  return path;
}

export function run(cmd: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}) {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 60_000,
  });
  return {
    code: r.status ?? 1,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
  };
}

const SECRET_NAME = /(PASSWORD|TOKEN|SECRET|API_KEY|API_KEYS|PRIVATE_KEY)$/;
/** Env names whose value is a credential (DATABASE_URL can embed one too). */
export const isSecretName = (name: string) => SECRET_NAME.test(name.replace(/_FILE$/, ''));

/**
 * The env keys one service's zod config schema knows, imported from services/<svc>/src/config.ts
 * (`configSchema`). undefined when there is no config.ts yet.
 */
export async function configKeys(
  service: string,
): Promise<{ keys: Set<string>; source: 'schema' } | undefined> {
  const file = repoPath('services', service, 'src/config.ts');
  if (!existsSync(file)) return undefined;
  // The schema itself (through its .transform()/.superRefine() wrappers), never a reading of its text:
  // a variable added to the shared base config is known here the moment the schema has it.
  const mod = (await import(file)) as { configSchema?: unknown };
  const keys = objectKeys(mod.configSchema);
  if (!keys) throw new Error(`services/${service}/src/config.ts exports no object configSchema`);
  return { keys: new Set(keys), source: 'schema' };
}

/** A key is known if the schema has it, or it is the NAME_FILE variant of a known secret. */
export function isKnownKey(keys: Set<string>, key: string): boolean {
  return keys.has(key) || (key.endsWith('_FILE') && keys.has(key.slice(0, -'_FILE'.length)));
}

/** Keys of a dotenv file (comments and blanks skipped). */
export function dotenvEntries(text: string): [string, string][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i).trim(), l.slice(i + 1).trim()] as [string, string];
    });
}
