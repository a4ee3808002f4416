import { AppError } from '@workemon/errors';
import type { Request } from 'express';
import type { z } from 'zod';

/** Removes NUL bytes (Postgres rejects them in text, and they are never meaningful in a message). */
export function stripNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
}

/** NUL bytes removed from every string, however deep (JSON bodies carry arrays and objects). */
function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return stripNul(value);
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)]));
  return value;
}

/** A repeated query parameter arrives as an array; in a JSON body an array is just a value. */
function normalise(source: unknown, fromQuery: boolean): Record<string, unknown> {
  if (source === null || source === undefined) return {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw AppError.badRequest('Request body must be a JSON object');
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    if (fromQuery && Array.isArray(value)) throw AppError.badRequest(`Parameter '${key}' must be given once`);
    out[key] = withoutNul(value);
  }
  return out;
}

/**
 * Reads an endpoint's input from the query string (GET) or the JSON body (POST),
 * validates it with the contract schema and turns the first problem into a 400
 * whose message names the parameter.
 */
export function parseInput<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  const isRead = req.method === 'GET' || req.method === 'HEAD';
  if (
    !isRead &&
    req.headers['content-type'] !== undefined &&
    !req.is(['application/json', 'application/*+json'])
  ) {
    throw new AppError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type '${req.headers['content-type']}' is not supported: send application/json`,
    );
  }
  const raw = isRead ? normalise(req.query, true) : normalise(req.body, false);
  return parseValue(schema, raw);
}

export function parseValue<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.join('.') ?? '';
  const message = issue?.message ?? 'Invalid request';
  // zod's own default messages do not name the field; contract messages already do.
  throw AppError.badRequest(
    path && !message.includes(`'${path}'`) ? `Parameter '${path}': ${message}` : message,
  );
}
