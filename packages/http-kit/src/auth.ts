import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '@workemon/errors';
import type { RequestHandler, Response } from 'express';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Who a bearer key belongs to. Client API keys call the API; service keys (SERVICE_TOKEN) are
 * the mesh's own calls; admin keys may also change reference data (the user directory).
 * `anonymous` is the caller when the service runs without any key (AUTH_DISABLED=true).
 */
export type AuthRole = 'client' | 'service' | 'admin' | 'anonymous';

export interface AuthKeys {
  client?: readonly string[];
  service?: readonly string[];
  admin?: readonly string[];
}

export interface Authenticated {
  role: AuthRole;
  /** A stable, non-secret id of the key (a digest prefix): rate limits and logs use it. */
  keyId: string;
}

interface KnownKey {
  digest: Buffer;
  role: AuthRole;
  keyId: string;
}

/**
 * Bearer authentication against fixed sets of keys. Keys are compared as SHA-256 digests with
 * timingSafeEqual (every key, every time) so neither content nor length leaks.
 */
export class BearerAuthenticator {
  private readonly keys: KnownKey[];

  constructor(keys: AuthKeys) {
    const entries: [AuthRole, readonly string[] | undefined][] = [
      ['admin', keys.admin],
      ['service', keys.service],
      ['client', keys.client],
    ];
    const seen = new Set<string>();
    this.keys = [];
    for (const [role, list] of entries)
      for (const key of list ?? []) {
        if (seen.has(key)) continue;
        seen.add(key);
        const d = digest(key);
        this.keys.push({ digest: d, role, keyId: d.toString('hex').slice(0, 12) });
      }
  }

  /** No key configured at all: the service was started with AUTH_DISABLED=true. */
  get disabled(): boolean {
    return this.keys.length === 0;
  }

  /** The caller behind an Authorization header; undefined when it is missing or wrong. */
  identify(header: string | undefined): Authenticated | undefined {
    if (this.disabled) return { role: 'anonymous', keyId: 'anonymous' };
    const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!match?.[1]) return undefined;
    const presented = digest(match[1].trim());
    let found: KnownKey | undefined;
    for (const key of this.keys) if (timingSafeEqual(key.digest, presented) && !found) found = key;
    return found ? { role: found.role, keyId: found.keyId } : undefined;
  }
}

export function authenticatedCaller(res: Response): Authenticated | undefined {
  return res.locals.auth as Authenticated | undefined;
}

/** Requires a bearer key on every path outside `openPaths`; the caller lands in res.locals.auth. */
export function bearerAuth(authenticator: BearerAuthenticator, openPaths: readonly string[]): RequestHandler {
  return (req, res, next) => {
    if (openPaths.some((p) => req.path === p || req.path.startsWith(`${p}/`))) {
      next();
      return;
    }
    if (!/^Bearer\s+\S/i.test(req.headers.authorization ?? '') && !authenticator.disabled) {
      next(AppError.unauthorized('Missing bearer token: send Authorization: Bearer <key>'));
      return;
    }
    const caller = authenticator.identify(req.headers.authorization);
    if (!caller) {
      next(AppError.unauthorized('Invalid bearer token'));
      return;
    }
    res.locals.auth = caller;
    next();
  };
}

/** Route guard: only callers with one of `roles`; others get 403 with `message` (say which key is needed). */
export function requireRole(roles: readonly AuthRole[], message: string): RequestHandler {
  return (_req, res, next) => {
    const caller = authenticatedCaller(res);
    if (caller && (caller.role === 'anonymous' || roles.includes(caller.role))) {
      next();
      return;
    }
    next(new AppError('FORBIDDEN', message));
  };
}
