import { AppError } from '@workemon/errors';
import { parse as parseCookie } from 'cookie';
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import type { SessionUseCases, SignedIn } from '../domain/sessions.js';

export const SESSION_COOKIE = 'wm_console_session';

export function sessionToken(req: Request): string | undefined {
  const header = req.headers.cookie;
  return header ? parseCookie(header)[SESSION_COOKIE] : undefined;
}

/** HttpOnly, SameSite=Strict, path /, Secure whenever the browser reached us over https (req.secure honours TRUST_PROXY). */
export function sessionCookieOptions(req: Request, expires?: Date): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
    ...(expires ? { expires } : {}),
  };
}

export function signedIn(res: Response): SignedIn {
  const session = res.locals.session as SignedIn | undefined;
  if (!session) throw AppError.unauthorized('Sign in first');
  return session;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Every /api route but sign-in: a live session, and on writes the CSRF header (double submit:
 * the token the page got at sign-in, which a cross-site form can neither read nor send).
 */
export function requireSession(sessions: SessionUseCases): RequestHandler {
  return async (req, res, next) => {
    try {
      const session = await sessions.resolve(sessionToken(req));
      if (!session) throw AppError.unauthorized('Sign in first');
      if (WRITE_METHODS.has(req.method)) sessions.checkCsrf(session, req.get('x-csrf-token'));
      res.locals.session = session;
      next();
    } catch (error) {
      next(error);
    }
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  next(signedIn(res).role === 'admin' ? undefined : new AppError('FORBIDDEN', 'Only an admin may do this'));
};

/** Writes must be JSON: a cross-site form (urlencoded, multipart, text/plain) cannot send it without CORS. */
export const requireJson: RequestHandler = (req, _res, next) => {
  if (WRITE_METHODS.has(req.method) && req.method !== 'DELETE' && !req.is('application/json')) {
    next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send application/json'));
    return;
  }
  next();
};
