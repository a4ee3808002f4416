import { AppError, toErrorResponse } from '@workemon/errors';
import type { RequestHandler } from 'express';

export interface AdmissionLimitOptions {
  /** Requests of this route allowed in flight at once; the next one is refused at once. */
  maxInFlight: number;
  /** What a refused caller is told to wait (Retry-After, seconds). */
  retryAfterSeconds: number;
  /** Counts refusals, e.g. a prom-client Counter's inc. */
  onShed?: () => void;
}

/**
 * Sheds overload before any work starts: beyond `maxInFlight` concurrent requests the route
 * answers 503 + Retry-After without touching the database or the LLM, instead of queueing the
 * request until a pool timeout fails it after the LLM was already paid for. A request leaves
 * the count when its response is finished or its connection closes.
 */
export function admissionLimit(options: AdmissionLimitOptions): RequestHandler {
  let inFlight = 0;
  return (_req, res, next) => {
    if (inFlight >= options.maxInFlight) {
      options.onShed?.();
      // Answered here, not through the error handler: under overload a refusal must stay cheap
      // (no error log with a stack per refused request; the access log line still records it).
      const error = AppError.unavailable(
        `too many requests in flight (${options.maxInFlight}); retry in ${options.retryAfterSeconds} s`,
      );
      res.setHeader('retry-after', String(options.retryAfterSeconds));
      res.status(error.status).json(toErrorResponse(error, res.locals.requestId as string | undefined));
      return;
    }
    inFlight++;
    res.once('close', () => inFlight--);
    next();
  };
}
