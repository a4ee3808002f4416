import { AppError, isAppError } from '@workemon/errors';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
]);

/** True for errors that mean "the database is not reachable right now", not "the query is wrong". */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  if (
    /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
      error.message,
    )
  ) {
    return true;
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isConnectionError(cause);
}

/**
 * True when PostgreSQL itself answered the statement with an error: the statement, and its implicit
 * transaction, changed nothing (unlike a lost connection, after which it may have committed).
 */
export function isRejectedByServer(error: unknown): boolean {
  if (isConnectionError(error)) return false;
  const driver = (error as { cause?: unknown }).cause ?? error;
  const code = errorCode(driver);
  return (
    typeof (driver as { severity?: unknown }).severity === 'string' &&
    code !== undefined &&
    /^[0-9A-Z]{5}$/.test(code)
  );
}

/** What clients are told when the database is down: nothing of the query, the data or the driver. */
export const DATABASE_UNAVAILABLE = 'the database is unavailable; retry later';

/**
 * A database error with what may be logged: the SQL text (parameterised, so no values), how many
 * parameters of which types, and the server's code and message. Drizzle's own message carries every
 * parameter value (request texts, usernames) and must never reach a log line or a client.
 */
export class DatabaseError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'DatabaseError';
    this.code = code;
  }
}

interface QueryError {
  query: string;
  params: unknown[];
  cause?: unknown;
}

const isQueryError = (error: unknown): error is QueryError & Error =>
  error instanceof Error &&
  typeof (error as Partial<QueryError>).query === 'string' &&
  Array.isArray((error as Partial<QueryError>).params);

/** Describes a driver or drizzle error without any parameter value; keeps the code for classification. */
export function describeDatabaseError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  let query: QueryError | undefined;
  let driver: unknown = error;
  if (isQueryError(error)) {
    query = error;
    driver = error.cause ?? error;
  }
  const code = errorCode(driver) ?? errorCode(error);
  const serverMessage =
    driver instanceof Error && driver !== error
      ? withoutValues(driver.message, code)
      : fallbackMessage(error);
  const parts = [code ? `${code} ${serverMessage}` : serverMessage];
  if (query) {
    const types = query.params.map(paramType);
    parts.push(
      `in query: ${oneLine(query.query, 400)} (${types.length} parameter(s)${types.length ? `: ${summariseTypes(types)}` : ''})`,
    );
  }
  return new DatabaseError(parts.join(' '), code);
}

/** Repositories run every query through this: an unreachable database is a 503, not a 500; no error leaks values. */
export async function guardDatabase<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isAppError(error)) throw error;
    const described = describeDatabaseError(error);
    if (isConnectionError(error)) {
      throw AppError.unavailable(DATABASE_UNAVAILABLE, { cause: described, retryAfterSeconds: 5 });
    }
    throw described;
  }
}

/** An error that is not a wrapped driver error: its own message, unless it carries query parameters. */
function fallbackMessage(error: unknown): string {
  if (isQueryError(error)) return 'query failed';
  return error instanceof Error ? withoutValues(error.message, errorCode(error)) : 'query failed';
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Data exceptions (22xxx) and constraint violations (23xxx) quote the offending value: keep the rule only. */
function withoutValues(message: string, code: string | undefined): string {
  const line = oneLine(message, 300);
  if (code && (code.startsWith('22') || code.startsWith('23'))) {
    const cut = line.search(/:\s*["'(]/);
    return cut > 0 ? line.slice(0, cut) : line;
  }
  return line;
}

function paramType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return 'date';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function summariseTypes(types: string[]): string {
  const counts = new Map<string, number>();
  for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].map(([t, n]) => `${n} ${t}`).join(', ');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
