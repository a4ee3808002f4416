import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';

/**
 * The built page (dist/page: index.html, app.js, app.css). Hash routes (#/inbox, #/c/…) keep the
 * server to one document; assets are served with their own types and short caching.
 */
export function pageRoutes(pageDir: string): Router {
  const router = Router();
  const index = join(pageDir, 'index.html');
  router.use(
    '/assets',
    express.static(join(pageDir, 'assets'), { maxAge: '5m', index: false, fallthrough: true }),
  );
  router.get('/', (_req, res) => {
    if (!existsSync(index)) {
      res.status(503).type('text/plain').send('The console page is not built: run `pnpm build`');
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}
