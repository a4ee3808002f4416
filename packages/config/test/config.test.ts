import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseServiceConfig, ConfigError, csvList, duration, httpUrl, loadConfig, z } from '../src/index.js';

const schema = z.object({
  ...baseServiceConfig(8000),
  DATABASE_URL: z.string({ error: 'is required' }),
  GUESSER_URL: httpUrl('http://localhost:8001'),
  API_KEYS: csvList(),
  CLARIFICATION_TTL: duration('24h'),
});

describe('config', () => {
  it('when a required variable is missing, then the error names it', () => {
    expect(() => loadConfig(schema, {}, { dotenv: false })).toThrowError(/DATABASE_URL: is required/);
  });

  it('when several values are invalid, then every variable at fault is named', () => {
    try {
      loadConfig(
        schema,
        { DATABASE_URL: 'x', PORT: 'eighty', GUESSER_URL: 'ftp://x', CLARIFICATION_TTL: 'soon' },
        { dotenv: false },
      );
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variables.sort()).toEqual(['CLARIFICATION_TTL', 'GUESSER_URL', 'PORT']);
    }
  });

  it('when values are valid, then they are coerced with defaults applied', () => {
    const config = loadConfig(
      schema,
      { DATABASE_URL: 'postgres://x', API_KEYS: ' a, b ,,', CLARIFICATION_TTL: '15m', PORT: '' },
      { dotenv: false },
    );
    expect(config).toMatchObject({
      PORT: 8000,
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
      API_KEYS: ['a', 'b'],
      CLARIFICATION_TTL: 900_000,
    });
  });

  it('when NAME_FILE points at a secret file, then NAME is read from it; unknown *_FILE variables are ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-config-'));
    writeFileSync(join(dir, 'db'), 'postgres://from-file\n');
    const config = loadConfig(
      schema,
      { DATABASE_URL_FILE: join(dir, 'db'), TF_CLI_CONFIG_FILE: '/does/not/exist' },
      { dotenv: false },
    );
    expect(config.DATABASE_URL).toBe('postgres://from-file');
  });

  it('when the schema is transformed, then only its own NAME_FILE variables are read', () => {
    const transformed = schema.transform((c) => ({ ...c, extra: true }));
    const config = loadConfig(
      transformed,
      { DATABASE_URL: 'postgres://x', TF_CLI_CONFIG_FILE: '/nope' },
      { dotenv: false },
    );
    expect(config.extra).toBe(true);
  });

  it('when a secret file cannot be read, then the error names the _FILE variable', () => {
    expect(() =>
      loadConfig(schema, { DATABASE_URL_FILE: '/does/not/exist' }, { dotenv: false }),
    ).toThrowError(/DATABASE_URL_FILE/);
  });

  it('when a .env file exists, then real environment variables still win over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wm-config-'));
    writeFileSync(join(dir, '.env'), 'DATABASE_URL=postgres://dotenv\nLOG_LEVEL=debug\n');
    const config = loadConfig(schema, { LOG_LEVEL: 'warn' }, { cwd: dir });
    expect(config).toMatchObject({ DATABASE_URL: 'postgres://dotenv', LOG_LEVEL: 'warn' });
  });
});
