import { randomUUID } from 'node:crypto';
import { DATABASE_UNAVAILABLE, describeDatabaseError, isConnectionError } from '@workemon/db';
import { AppError, isAppError, toErrorResponse } from '@workemon/errors';
import { currentRequestId, type Logger, redactText, requestContext, truncateForLog } from '@workemon/logger';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Router } from 'express';
import type swaggerUi from 'swagger-ui-express';
import { authenticatedCaller, BearerAuthenticator, bearerAuth } from './auth.js';
import type { HealthRegistry } from './health.js';
import { rejectPrototypeKeys } from './input.js';
import { collectKnownRoutes, type KnownRoute, matchKnownRoute } from './known-routes.js';
import type { ServiceMetrics } from './metrics.js';
import { buildOpenApiDocument, type OpenApiDocument, type RouteDoc } from './openapi.js';
import { KeyedRateLimiter, type RateLimit } from './rate-limit.js';
import { UpstreamError } from './upstream-client.js';

export interface HttpAppOptions {
  service: string;
  version: string;
  logger: Logger;
  metrics: ServiceMetrics;
  health: HealthRegistry;
  /**
   * Bearer keys accepted for non-public routes (client role). With no key of any role the
   * service is open: main.ts only allows that with AUTH_DISABLED=true.
   */
  authKeys?: readonly string[];
  /** The mesh's own callers (SERVICE_TOKEN): accepted everywhere, exempt from the per-key limit. */
  serviceKeys?: readonly string[];
  /** Keys that may also change reference data (routes guarded by requireRole(['admin'])). */
  adminKeys?: readonly string[];
  /** Requests per window per client or admin key (429 + Retry-After beyond it). */
  perKeyRateLimit?: RateLimit;
  /** Max JSON body size, e.g. "1mb". */
  bodyLimit?: string;
  /** Max URL length in characters (query strings carry request text on GET). */
  maxUrlLength?: number;
  routes: Router;
  docs: { title: string; description?: string; routes: RouteDoc[] };
}

const PUBLIC_PATHS = ['/health', '/metrics', '/openapi.json', '/docs'];
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Express app with the mesh-wide conventions; services only add their routes. */
export function createHttpApp(options: HttpAppOptions): Express {
  const { logger, metrics, health } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  const knownRoutes = collectKnownRoutes(options.routes);
  const authenticator = new BearerAuthenticator({
    client: options.authKeys ?? [],
    service: options.serviceKeys ?? [],
    admin: options.adminKeys ?? [],
  });

  const maxUrl = options.maxUrlLength ?? 64 * 1024;
  const logRequest = accessLog(logger, metrics, knownRoutes);
  const guard = meshGuard(authenticator, knownRoutes, options.perKeyRateLimit);
  // One layer for the steps every request takes, in this order: request id (everything after it,
  // the access log included, runs in its context), access log, URL limit, bearer auth, per-key
  // rate limit, 405 for a known path with another method. Express's dispatch of each layer cost
  // more than most of these steps themselves.
  app.use((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('x-request-id', requestId);
    // Every answer is JSON, text or the docs UI: browsers must not guess another type.
    res.setHeader('x-content-type-options', 'nosniff');
    res.locals.requestId = requestId;
    requestContext.run({ requestId }, () => {
      logRequest(req, res);
      if (req.originalUrl.length > maxUrl) {
        next(
          new AppError(
            'PAYLOAD_TOO_LARGE',
            `URL is longer than ${maxUrl} characters: send long texts with POST as JSON`,
          ),
        );
        return;
      }
      guard(req, res, next);
    });
  });

  app.get('/health', async (req, res) => {
    const report = await health.report();
    // Open to probes, but what is configured and why a check fails (provider, model, integrations)
    // is only told to a caller with a valid key.
    const detailed =
      authenticator.disabled || authenticator.identify(req.headers.authorization) !== undefined;
    const body = detailed
      ? report
      : {
          ...report,
          checks: Object.fromEntries(
            Object.entries(report.checks).map(([name, check]) => [
              name,
              {
                status: check.status,
                ...(check.latencyMs === undefined ? {} : { latencyMs: check.latencyMs }),
              },
            ]),
          ),
        };
    res.status(report.status === 'down' ? 503 : 200).json(body);
  });
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const report = await health.report();
    res.status(report.status === 'down' ? 503 : 200).json({ status: report.status });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  // The document and the docs UI are built on first use: most processes never serve them,
  // and idle memory is a budget (≤ 90 MB per service).
  let document: OpenApiDocument | undefined;
  const openApi = (): OpenApiDocument =>
    (document ??= buildOpenApiDocument(
      {
        title: options.docs.title,
        version: options.version,
        ...(options.docs.description ? { description: options.docs.description } : {}),
      },
      options.docs.routes,
    ));
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi());
  });
  let docsUi: Router | undefined;
  app.use('/docs', async (req, res, next) => {
    if (!docsUi) {
      const swaggerUi = (await import('swagger-ui-express')).default;
      docsUi = express.Router().use(swaggerUi.serve, swaggerUi.setup(openApi() as swaggerUi.JsonObject));
    }
    docsUi(req, res, next);
  });

  const json = express.json({
    limit: options.bodyLimit ?? '1mb',
    type: ['application/json', 'application/*+json'],
  });
  app.use((req, res, next) => {
    json(req, res, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      try {
        // JSON.parse keeps `__proto__` as an own key; it is never one of our parameters.
        rejectPrototypeKeys(req.body);
      } catch (refused) {
        next(refused);
        return;
      }
      next();
    });
  });
  app.use(options.routes);

  app.use((req, _res, next) => {
    next(AppError.notFound(`No route for ${req.method} ${req.path}`));
  });
  app.use(errorHandler(logger));
  return app;
}

/** Methods we label by name; anything else a client invents is one label value. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The `route` label: the template of the route that answered or that the path belongs to, `/docs`
 * for the docs UI, else `unmatched` — never the raw path, so clients cannot mint label values.
 */
function routeLabel(req: express.Request, knownRoutes: readonly KnownRoute[]): string {
  const handled = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof handled === 'string' && req.baseUrl === '') return handled;
  const path = req.originalUrl.split('?')[0] ?? '';
  if (path === '/docs' || path.startsWith('/docs/')) return '/docs';
  return matchKnownRoute(knownRoutes, path)?.path ?? 'unmatched';
}

/**
 * After public routes would have answered (they are exempt): bearer auth, the per-key limit, and a
 * known path with another method as 405 + Allow, before any body is read. HEAD is refused on API
 * routes (express would run the GET handler, i.e. a whole analysis, and drop the body).
 */
function meshGuard(
  authenticator: BearerAuthenticator,
  knownRoutes: readonly KnownRoute[],
  perKeyRateLimit: RateLimit | undefined,
): RequestHandler {
  const auth = bearerAuth(authenticator, PUBLIC_PATHS);
  const perKey = perKeyRateLimit ? new KeyedRateLimiter(perKeyRateLimit, 'per API key') : undefined;
  const allowed: RequestHandler = (req, res, next) => {
    const known = matchKnownRoute(knownRoutes, req.path);
    if (!known || known.methods.includes(req.method)) {
      next();
      return;
    }
    res.setHeader('allow', known.methods.join(', '));
    next(
      new AppError(
        'METHOD_NOT_ALLOWED',
        `Method ${req.method} is not allowed on ${known.path}: use ${known.methods.join(' or ')}`,
      ),
    );
  };
  return (req, res, next) => {
    void auth(req, res, (error?: unknown) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      const caller = authenticatedCaller(res);
      if (!perKey || !caller || caller.role === 'service' || caller.role === 'anonymous') {
        allowed(req, res, next);
        return;
      }
      perKey.consume(caller.keyId).then(() => allowed(req, res, next), next);
    });
  };
}

/** Registers the request's access line and duration metric, written when its response finishes. */
function accessLog(
  logger: Logger,
  metrics: ServiceMetrics,
  knownRoutes: readonly KnownRoute[],
): (req: express.Request, res: express.Response) => void {
  return (req, res) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationNs = process.hrtime.bigint() - started;
      const route = routeLabel(req, knownRoutes);
      metrics.httpDuration.observe(
        {
          method: KNOWN_METHODS.has(req.method) ? req.method : 'other',
          route,
          status_code: String(res.statusCode),
        },
        Number(durationNs) / 1e9,
      );
      if (req.path === '/metrics' || req.path.startsWith('/health')) return;
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      logger.log(level, `${req.method} ${req.path} ${res.statusCode}`, {
        'trace.id': res.locals.requestId as string,
        http: {
          request: {
            method: req.method,
            ...(req.headers['content-length']
              ? { body: { bytes: Number(req.headers['content-length']) } }
              : {}),
          },
          response: { status_code: res.statusCode },
        },
        // Paths are client-chosen: a bounded prefix is enough to find the request.
        url: { path: truncateForLog(req.path, 256) },
        event: {
          duration: Number(durationNs),
          kind: 'event',
          category: ['web'],
          outcome: res.statusCode >= 400 ? 'failure' : 'success',
        },
        ...(req.headers['user-agent']
          ? { user_agent: { original: truncateForLog(req.headers['user-agent'], 256) } }
          : {}),
        // What the route adds about its outcome: one line per request carries it all.
        ...(res.locals.logFields as Record<string, unknown> | undefined),
      });
    });
  };
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const requestId = (res.locals.requestId as string | undefined) ?? currentRequestId();
    let appError: AppError;
    if (isAppError(err)) appError = err;
    else if ((err as BodyParserError).type === 'entity.too.large') {
      appError = AppError.payloadTooLarge(
        `Request body exceeds ${(err as BodyParserError).limit ?? 'the'} bytes limit`,
      );
    } else if ((err as BodyParserError).type === 'entity.parse.failed') {
      appError = AppError.badRequest('Request body is not valid JSON');
    } else if (
      (err as BodyParserError).type === 'encoding.unsupported' ||
      (err as BodyParserError).type === 'charset.unsupported'
    ) {
      appError = AppError.badRequest('Request body encoding is not supported: send UTF-8 JSON');
    } else if (
      typeof (err as BodyParserError).status === 'number' &&
      (err as BodyParserError).status! < 500
    ) {
      appError = new AppError('BAD_REQUEST', (err as Error).message);
    } else if (isConnectionError(err)) {
      // The same outage answers the same everywhere: 503 + Retry-After, never a 500.
      appError = AppError.unavailable(DATABASE_UNAVAILABLE, {
        cause: describeDatabaseError(err),
        retryAfterSeconds: 5,
      });
    } else {
      appError = AppError.internal('Internal server error', err);
    }
    if (appError.status >= 500) {
      if (isExpectedOutage(appError)) {
        // Said on purpose (an LLM not configured) or relayed from a peer that answered with its
        // own error and logged it there: one line, no stack trace.
        logger.warn(appError.message, { 'error.code': appError.code });
      } else {
        logger.error(appError.message, {
          err: loggableError(appError.cause instanceof Error ? appError.cause : appError),
          'error.code': appError.code,
        });
      }
    }
    if (appError.retryAfterSeconds !== undefined)
      res.setHeader('retry-after', String(Math.ceil(appError.retryAfterSeconds)));
    if (res.headersSent) return;
    res.status(appError.status).json(toErrorResponse(appError, requestId));
  };
}

/**
 * A 503 our own code raised with a message and no underlying error, or a peer's 503/429 answer relayed
 * (the peer logged the reason): nothing unexpected happened here, so no stack trace is worth logging.
 */
function isExpectedOutage(error: AppError): boolean {
  if (error.code !== 'SERVICE_UNAVAILABLE') return false;
  if (error.cause === undefined) return true;
  return error.cause instanceof UpstreamError && error.cause.kind === 'http';
}

/**
 * Library errors (axios, pg) carry their request config, sockets and headers — the
 * bearer token and the user's text among them — and the logger's redaction skips
 * `err`. Log only name, message, code and stack.
 */
function loggableError(error: Error): Error {
  const clean = new Error(redactText(error.message));
  clean.name = error.name;
  clean.stack = error.stack === undefined ? undefined : redactText(error.stack);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') Object.assign(clean, { code });
  return clean;
}
