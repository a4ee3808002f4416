/**
 * One error model for every service. The code list is closed so that a
 * client (and an alert rule) can rely on a fixed vocabulary.
 */
export const ERROR_CODES = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  TOO_MANY_REQUESTS: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** HTTP reason phrases, used as the `error` field of ErrorResponse. */
export const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request');
}

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra machine-readable detail (e.g. retry-after seconds); never rendered verbatim to clients. */
  details?: Record<string, unknown>;
  /** Seconds a client should wait before retrying (rendered as Retry-After). */
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  static badRequest(message: string): AppError {
    return new AppError('BAD_REQUEST', message);
  }
  static unauthorized(message = 'Missing or invalid bearer token'): AppError {
    return new AppError('UNAUTHORIZED', message);
  }
  static notFound(message: string): AppError {
    return new AppError('NOT_FOUND', message);
  }
  static conflict(message: string): AppError {
    return new AppError('CONFLICT', message);
  }
  static payloadTooLarge(message: string): AppError {
    return new AppError('PAYLOAD_TOO_LARGE', message);
  }
  static badGateway(message: string, cause?: unknown): AppError {
    return new AppError('BAD_GATEWAY', message, { cause });
  }
  static unavailable(message: string, options: AppErrorOptions = {}): AppError {
    return new AppError('SERVICE_UNAVAILABLE', message, options);
  }
  static gatewayTimeout(message: string, cause?: unknown): AppError {
    return new AppError('GATEWAY_TIMEOUT', message, { cause });
  }
  static internal(message: string, cause?: unknown): AppError {
    return new AppError('INTERNAL', message, { cause });
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** Maps an HTTP status to the closest error code (used when relaying upstream errors). */
export function codeForStatus(status: number): ErrorCode {
  const entry = Object.entries(ERROR_CODES).find(([, s]) => s === status);
  if (entry) return entry[0] as ErrorCode;
  return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
}

export interface ErrorResponseBody {
  error: string;
  message: string;
  statusCode: number;
  requestId?: string;
}

export function toErrorResponse(err: AppError, requestId?: string): ErrorResponseBody {
  return {
    error: reasonPhrase(err.status),
    message: err.message,
    statusCode: err.status,
    ...(requestId ? { requestId } : {}),
  };
}
