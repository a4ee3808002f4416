import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import * as buildScript from '../scripts/build.mjs';

const { sourceFingerprint, isUpToDate, writeStamp } = buildScript as {
  sourceFingerprint: (root: string) => string;
  isUpToDate: (root: string) => boolean;
  writeStamp: (root: string, fingerprint: string) => void;
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A workspace laid out like the repository's, with the outputs `pnpm start` runs already there. */
function fakeWorkspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'wm-stamp-'));
  const file = (path: string, text = 'x') => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  for (const f of ['package.json', 'pnpm-lock.yaml', 'tsconfig.base.json', 'tsconfig.build.json'])
    file(f, '{}');
  file('scripts/build.mjs', '// build');
  file('packages/launcher/package.json', '{}');
  file('packages/launcher/tsconfig.build.json', '{}');
  file('packages/launcher/src/main.ts', 'export {};');
  file('packages/launcher/dist/main.js', '');
  file('services/console/package.json', '{}');
  file('services/console/tsconfig.build.json', '{}');
  file('services/console/src/main.ts', 'export {};');
  file('services/console/page/app.ts', 'export {};');
  file('services/console/test/a.test.ts', '');
  file('services/console/dist/page/index.html', '');
  file('services/console/dist/bundle/main.js', '');
  file('services/guesser/package.json', '{}');
  file('services/guesser/tsconfig.build.json', '{}');
  file('services/guesser/src/main.ts', 'export {};');
  file('services/guesser/src/domain/prompt.ts', 'export const p = 1;');
  file('services/guesser/dist/bundle/main.js', '');
  return root;
}

describe('build stamp (pnpm start builds only when a source changed)', () => {
  let root: string;
  beforeEach(() => {
    root = fakeWorkspace();
    writeStamp(root, sourceFingerprint(root));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('when nothing changed since the build, then no build is needed', () => {
    expect(isUpToDate(root)).toBe(true);
  });

  it('when a source file is edited (same size, newer mtime), then a build is needed', () => {
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, 'services/guesser/src/domain/prompt.ts'), later, later);
    expect(isUpToDate(root)).toBe(false);
  });

  it('when a source file is rewritten with other content, then a build is needed', () => {
    writeFileSync(join(root, 'services/guesser/src/domain/prompt.ts'), 'export const p = 22;');
    expect(isUpToDate(root)).toBe(false);
  });

  it.each([
    ['a source file is added', (r: string) => writeFileSync(join(r, 'services/guesser/src/new.ts'), '')],
    ['a source file is removed', (r: string) => rmSync(join(r, 'services/guesser/src/domain/prompt.ts'))],
    [
      'a source file is renamed',
      (r: string) =>
        renameSync(join(r, 'services/guesser/src/domain/prompt.ts'), join(r, 'services/guesser/src/p.ts')),
    ],
    ['the console page changes', (r: string) => writeFileSync(join(r, 'services/console/page/app.ts'), '//')],
    [
      'a tsconfig changes',
      (r: string) => writeFileSync(join(r, 'services/guesser/tsconfig.build.json'), '{ }'),
    ],
    ['the lockfile changes', (r: string) => writeFileSync(join(r, 'pnpm-lock.yaml'), 'lockfileVersion: 9')],
    [
      'a package.json changes',
      (r: string) => writeFileSync(join(r, 'packages/launcher/package.json'), '{ }'),
    ],
    ['the build script changes', (r: string) => writeFileSync(join(r, 'scripts/build.mjs'), '// other')],
    [
      'a bundle the launcher runs is missing',
      (r: string) => rmSync(join(r, 'services/guesser/dist/bundle/main.js')),
    ],
    ['the launcher was never compiled', (r: string) => rmSync(join(r, 'packages/launcher/dist/main.js'))],
    ['no build ever succeeded', (r: string) => rmSync(join(r, 'node_modules'), { recursive: true })],
  ])('when %s, then a build is needed', (_what, change) => {
    change(root);
    expect(isUpToDate(root)).toBe(false);
  });

  it('when only a test file changes, then no build is needed (tests run from sources)', () => {
    writeFileSync(join(root, 'services/console/test/a.test.ts'), 'it.todo("x")');
    expect(isUpToDate(root)).toBe(true);
  });

  it('when the repository was built by the global setup, then its stamp says up to date', () => {
    expect(isUpToDate(repoRoot)).toBe(true);
  });
});
