import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { objectShape } from './env-example.js';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly variables: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

export interface LoadEnvOptions {
  /** Directory to look for `.env` in (default: process cwd). */
  cwd?: string;
  /** Set false to ignore `.env` files (tests). */
  dotenv?: boolean;
  /** Variables the service knows; only their `NAME_FILE` twins are read (others, like TF_CLI_CONFIG_FILE, are not ours). */
  knownKeys?: readonly string[];
}

/**
 * Builds the effective environment: `.env` (development convenience) under the
 * real environment, then `NAME_FILE` secrets (Docker/K8s secrets) resolved into `NAME`.
 */
export function loadEnv(source: Env, options: LoadEnvOptions = {}): Env {
  const env: Env = {};
  if (options.dotenv !== false) {
    const file = resolve(options.cwd ?? process.cwd(), '.env');
    if (existsSync(file)) Object.assign(env, parseDotenv(readFileSync(file)));
  }
  for (const [key, value] of Object.entries(source)) if (value !== undefined) env[key] = value;
  for (const [key, value] of Object.entries(env)) {
    if (!key.endsWith('_FILE') || !value) continue;
    const target = key.slice(0, -'_FILE'.length);
    if (options.knownKeys && !options.knownKeys.includes(target)) continue;
    if (env[target] !== undefined && env[target] !== '') continue;
    try {
      env[target] = readFileSync(value, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`${key}: cannot read secret file ${value}: ${(error as Error).message}`, [key]);
    }
  }
  // An empty variable means "unset": compose files and shells often pass KEY= .
  for (const [key, value] of Object.entries(env)) if (value === '') delete env[key];
  return env;
}

/**
 * Parses the environment with one zod schema. Errors name every variable at fault.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = issue.path.length > 0 ? issue.path.join('.') : '(config)';
    return { variable, message: `${variable}: ${issue.message}` };
  });
  throw new ConfigError(
    `Invalid configuration:\n  ${problems.map((p) => p.message).join('\n  ')}`,
    problems.map((p) => p.variable),
  );
}

/** Loads `.env` + `_FILE` secrets and parses them; the one call each main.ts makes. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  source: Env = process.env,
  options: LoadEnvOptions = {},
): z.output<S> {
  const knownKeys = options.knownKeys ?? objectKeys(schema);
  return parseConfig(schema, loadEnv(source, { ...options, ...(knownKeys ? { knownKeys } : {}) }));
}

/** The variable names of an object schema, also through .transform()/.pipe() wrappers. */
export function objectKeys(schema: unknown): string[] | undefined {
  const shape = objectShape(schema);
  return shape && Object.keys(shape);
}

// ---- reusable field helpers -------------------------------------------------

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const httpUrl = (fallback?: string) => {
  const base = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
  return fallback === undefined ? base : base.default(fallback);
};

/** Comma-separated list of non-empty strings. */
export const csvList = () =>
  z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations like `500ms`, `30s`, `15m`, `24h`, `7d`, or plain seconds; parsed to milliseconds. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
      if (!match) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (e.g. 30s, 15m, 24h)` });
        return z.NEVER;
      }
      return Math.round(Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1000));
    });

export const logLevel = () =>
  z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info');

/** Fields every service shares. */
export const baseServiceConfig = (defaultPort: number) => ({
  PORT: port(defaultPort),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: logLevel(),
  SERVICE_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Explicitly run without credentials (local experiments only); logged as a warning at every start. */
  AUTH_DISABLED: booleanFlag(false),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
});

/**
 * Auth fails closed: a service missing any of `variables` refuses to start, naming them, unless
 * AUTH_DISABLED=true says it is meant to run open. Use as `.superRefine(requireCredentials([...]))`.
 */
export const requireCredentials =
  (variables: readonly string[]) =>
  (config: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    if (config.AUTH_DISABLED === true) return;
    for (const variable of variables) {
      const value = config[variable];
      if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0))
        ctx.addIssue({
          code: 'custom',
          path: [variable],
          message:
            'is required: the service refuses to run without credentials (set AUTH_DISABLED=true to run open on purpose)',
        });
    }
  };

export { z };
export { renderEnvExample } from './env-example.js';
