import { AppError } from '@workemon/errors';
import type { Request } from 'express';
import type { z } from 'zod';

/** Removes NUL bytes (Postgres rejects them in text, and they are never meaningful in a message). */
export function stripNul(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
}

/** Keys that would reach an object's prototype when copied by assignment; never a parameter of ours. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * JSON.parse keeps `__proto__` as an ordinary own key; whatever copies the object later by
 * assignment would set the prototype instead. Such a key anywhere in a body is a 400 naming it.
 */
export function rejectPrototypeKeys(value: unknown, path = '', depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 64) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => rejectPrototypeKeys(item, `${path}[${index}]`, depth + 1));
    return;
  }
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (PROTOTYPE_KEYS.has(key)) throw AppError.badRequest(`Parameter '${at}' is not a known parameter`);
    rejectPrototypeKeys((value as Record<string, unknown>)[key], at, depth + 1);
  }
}

/** A repeated query parameter arrives as an array; in a JSON body an array is just a value. */
function normalise(source: unknown, fromQuery: boolean): Record<string, unknown> {
  if (source === null || source === undefined) return {};
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw AppError.badRequest('Request body must be a JSON object');
  }
  rejectPrototypeKeys(source);
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    if (fromQuery && Array.isArray(value)) throw AppError.badRequest(`Parameter '${key}' must be given once`);
    out[key] = value;
  }
  return out;
}

/** The parameter names of an object schema (also through refinements), or undefined for other schemas. */
function knownKeys(schema: z.ZodType): string[] | undefined {
  const shape = (schema as { shape?: unknown }).shape;
  return shape !== null && typeof shape === 'object' ? Object.keys(shape) : undefined;
}

/**
 * Reads an endpoint's input from the query string (GET) or the JSON body (POST),
 * validates it with the contract schema and turns the first problem into a 400
 * whose message names the parameter. Parameters the contract does not define are refused
 * (a typo or a smuggled key is an error, not silently ignored). NUL bytes are the contract's
 * business: stripped from free text, refused in identifiers.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  req: Request,
  options: {
    /** Ignore parameters the contract does not define (prototype keys are refused regardless). */
    allowUnknown?: boolean;
  } = {},
): z.output<S> {
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
  const keys = options.allowUnknown ? undefined : knownKeys(schema);
  if (keys) {
    const unknown = Object.keys(raw).find((key) => !keys.includes(key));
    if (unknown !== undefined)
      throw AppError.badRequest(
        `Parameter '${unknown.slice(0, 64)}' is not a known parameter (expected: ${keys.join(', ')})`,
      );
  }
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
