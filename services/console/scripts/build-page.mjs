// Bundles the console page (page/app.ts → assets/app.js) and copies index.html and app.css.
// Usage: node scripts/build-page.mjs [outDir]   (default: dist/page)
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist', 'page'));
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [join(root, 'page', 'app.ts')],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: false,
  outfile: join(out, 'assets', 'app.js'),
  logLevel: 'warning',
});
copyFileSync(join(root, 'page', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'page', 'app.css'), join(out, 'assets', 'app.css'));
