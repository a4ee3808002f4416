import { createHash } from 'node:crypto';
import type pg from 'pg';

const names = new Map<string, string>();
/** Texts are constants, so this stays small; past it something builds texts dynamically: stop caching. */
const MAX_NAMES = 1_000;

/** The statement name of a text: derived from the text, so one name never means two statements. */
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `wm_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (names.size < MAX_NAMES) names.set(text, name);
  }
  return name;
}

/** A failed statement as drizzle reports one: the text and the parameters, the driver's error as cause. */
class NamedQueryError extends Error {
  constructor(
    readonly query: string,
    readonly params: unknown[],
    cause: unknown,
  ) {
    super('named query failed', { cause });
    this.name = 'NamedQueryError';
  }
}

/**
 * Runs a constant SQL text as a named prepared statement: each connection parses and plans it once
 * and then only binds and executes it — planning is most of what a small statement costs the
 * database. On the launcher's embedded PGlite every connection shares one session; a statement of
 * the same name and text prepared by another connection is reused there (embedded-postgres.ts).
 * Only for constant texts: each one stays prepared for as long as its connection lives. A failure
 * carries the text and the parameters as drizzle's do, for `guardDatabase` to describe without values.
 */
export function namedQuery<R extends pg.QueryResultRow>(
  client: Pick<pg.Pool, 'query'>,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  return client.query<R>({ name: statementName(text), text, values }).catch((error: unknown) => {
    throw new NamedQueryError(text, values, error);
  });
}
