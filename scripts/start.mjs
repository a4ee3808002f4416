// `pnpm start`: one Node process that builds only when a source changed since the last successful
// build (a stamp of file sizes and mtimes, a few milliseconds) and then runs the launcher in itself.
import { buildIfChanged } from './build.mjs';

const t0 = performance.now();
if (await buildIfChanged()) {
  process.stderr.write(`[launcher] built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
await import('../packages/launcher/dist/main.js');
