import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '@workemon/errors';
import type { RequestHandler } from 'express';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Bearer authentication against a fixed set of keys. Keys are compared as
 * SHA-256 digests with timingSafeEqual so neither content nor length leaks.
 */
export function bearerAuth(keys: readonly string[], openPaths: readonly string[]): RequestHandler {
  const digests = keys.map(digest);
  return (req, _res, next) => {
    if (digests.length === 0 || openPaths.some((p) => req.path === p || req.path.startsWith(`${p}/`))) {
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) {
      next(AppError.unauthorized('Missing bearer token: send Authorization: Bearer <key>'));
      return;
    }
    const presented = digest(match[1].trim());
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    next(ok ? undefined : AppError.unauthorized('Invalid bearer token'));
  };
}
