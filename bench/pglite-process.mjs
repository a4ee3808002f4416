// The embedded database the launcher runs (PGlite over pglite-socket), alone in its own
// process so the bench can read its CPU time. Prints {url} when it accepts connections.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@workemon/launcher';

const dir = mkdtempSync(join(tmpdir(), 'wm-bench-pglite-'));
const db = await startEmbeddedPostgres(join(dir, 'pglite'), 0);
process.stdout.write(`${JSON.stringify({ url: db.url })}\n`);
process.on(
  'SIGTERM',
  () =>
    void db.stop().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }),
);
