import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import * as buildScript from '../scripts/build.mjs';

const { narrowImports } = buildScript as { narrowImports: () => Plugin };

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Inside a package that depends on undici and rate-limiter-flexible, so both resolve as in a service build.
const httpKit = join(repoRoot, 'packages/http-kit');
let dir: string | undefined;

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function bundle(source: string) {
  dir = mkdtempSync(join(httpKit, '.narrow-test-'));
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, source);
  const outfile = join(dir, 'out.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    logLevel: 'silent',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    plugins: [narrowImports()],
  });
  return outfile;
}

describe('bundles import only the members a service uses of a CommonJS package', () => {
  it('when a service imports Pool from undici, then the bundle holds the pool and none of fetch, and the pool requests', async () => {
    const out = await bundle(
      "import { Pool } from 'undici';\nimport { RateLimiterMemory } from 'rate-limiter-flexible';\n" +
        'export const pool = (url) => new Pool(url);\n' +
        'export const limiter = new RateLimiterMemory({ points: 1, duration: 60 });\n',
    );
    const loaded = (await import(pathToFileURL(out).href)) as {
      pool: (url: string) => {
        request(o: {
          method: string;
          path: string;
        }): Promise<{ statusCode: number; body: { text(): Promise<string> } }>;
        close(): Promise<void>;
      };
      limiter: { consume(k: string): Promise<unknown> };
    };
    const server = createServer((_req, res) => res.end('pong')).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const pool = loaded.pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      // request() comes from undici's index in a full import: the narrowed one must add it as well.
      const response = await pool.request({ method: 'GET', path: '/' });
      expect([response.statusCode, await response.body.text()]).toEqual([200, 'pong']);
      await pool.close();
    } finally {
      server.close();
    }
    await loaded.limiter.consume('k');
    await expect(loaded.limiter.consume('k')).rejects.toMatchObject({ remainingPoints: 0 });
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('lib/dispatcher/pool.js');
    expect(text).not.toContain('lib/web/fetch/index.js');
    expect(text).not.toContain('RateLimiterRedis');
  });

  it('when a service imports a member the build does not know, then the build fails naming the file and the member', async () => {
    await expect(bundle("import { Agent } from 'undici';\nexport const a = Agent;\n")).rejects.toThrow(
      /entry\.mjs imports Agent from 'undici': add the member's file to NARROW_IMPORTS/,
    );
  });

  it('when a service imports the whole namespace, then the build fails', async () => {
    await expect(bundle("import * as undici from 'undici';\nexport const a = undici;\n")).rejects.toThrow(
      /imports \* as undici from 'undici'/,
    );
  });
});
