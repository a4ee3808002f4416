import { AppError } from '@workemon/errors';

/**
 * Keyset paging by a numeric id, newest first: the cursor is opaque to clients and checked when
 * it comes back (`prefix` keeps one list's cursors out of another's).
 */
export function encodeIdCursor(prefix: string, id: number): string {
  return Buffer.from(`${prefix}:${id}`).toString('base64url');
}

/** The id a cursor stands for; a 400 naming `cursor` when it is not one this list issued. */
export function decodeIdCursor(prefix: string, cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\w+):(\d{1,18})$/.exec(text);
  if (match?.[1] !== prefix || !match[2])
    throw AppError.badRequest("Parameter 'cursor' is not a cursor this API issued");
  return Number(match[2]);
}

/** Cuts rows fetched with `limit + 1` to one page and says where the next one starts. */
export function idPage<T>(
  rows: T[],
  limit: number,
  prefix: string,
  idOf: (row: T) => number,
): { page: T[]; next_cursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    page,
    next_cursor: rows.length > limit && last !== undefined ? encodeIdCursor(prefix, idOf(last)) : null,
  };
}
