import { AppError, isAppError } from '@workemon/errors';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EAI_AGAIN',
  '57P01',
  '57P03',
]);

/** True for errors that mean "the database is not reachable right now", not "the query is wrong". */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  if (
    /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(error.message)
  ) {
    return true;
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isConnectionError(cause);
}

/** Repositories run every query through this: an unreachable database is a 503, not a 500. */
export async function guardDatabase<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (!isAppError(error) && isConnectionError(error)) {
      throw AppError.unavailable(`database is unavailable: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}
