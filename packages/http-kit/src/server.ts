import { randomUUID } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { reasonPhrase } from '@workemon/errors';
import type { Logger } from '@workemon/logger';
import { IdleHeapSettler } from './idle-heap-settler.js';
import type { ServiceMetrics } from './metrics.js';

export async function listen(app: Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    // Keep-alive longer than typical client idle timeouts avoids races on reused sockets.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.requestTimeout = 120_000;
    server.on('clientError', answerClientError);
    trackResponses(server);
  });
}

/**
 * Requests node's HTTP parser refuses never reach express; node's own answer is a bare status
 * line. Answer with the mesh's JSON error instead — for an over-long GET (Cyrillic text in the
 * query overflows the 16 KB header limit) saying to send the text with POST.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : error.code === 'HPE_HEADERS_TIMEOUT' ? 408 : 400;
  const message = tooLarge
    ? 'Request line and headers exceed the 16 KB limit: send long texts with POST as a JSON body'
    : status === 408
      ? 'Request headers were not received in time'
      : 'Malformed HTTP request';
  const requestId = randomUUID();
  const body = JSON.stringify({
    error: status === 408 ? 'Request Timeout' : reasonPhrase(status),
    message,
    statusCode: status,
    requestId,
  });
  socket.end(
    `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : reasonPhrase(status)}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      'x-content-type-options: nosniff\r\n' +
      `x-request-id: ${requestId}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}

const pendingResponses = new WeakMap<Server, Set<ServerResponse>>();

function trackResponses(server: Server): void {
  const pending = new Set<ServerResponse>();
  pendingResponses.set(server, pending);
  server.on('request', (_req, res: ServerResponse) => {
    if (!server.listening) res.setHeader('connection', 'close');
    pending.add(res);
    res.once('close', () => pending.delete(res));
  });
}

/**
 * server.close() only drops connections that are idle at that moment; a keep-alive connection
 * whose request is in flight (a Prometheus scrape, a health probe) would otherwise stay open
 * until keepAliveTimeout and hold the shutdown past its deadline. Responses not yet started are
 * told `Connection: close`; the rest are closed as soon as they turn idle.
 */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const res of pendingResponses.get(server) ?? [])
      if (!res.headersSent) res.setHeader('connection', 'close');
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export function boundPort(server: Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** A resource a service closes when it stops (pools, clients, workers). */
export interface Closer {
  name: string;
  close: () => Promise<void> | void;
}

/** A started service: what its startService returns to main.ts (SIGTERM drain) and to tests. */
export interface RunningService {
  server: Server;
  /** http://host:port as bound (port 0 gives the port the system chose). */
  url: string;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Run in order after the server stops accepting and in-flight requests finish. */
  closers: Closer[];
  /** Stops accepting, lets in-flight requests finish, runs the closers (tests call it). */
  close(): Promise<void>;
}

/** Listens on config's HOST:PORT and returns the service with its closers; the last step of every startService. */
export async function serve(
  app: Express,
  options: {
    config: { HOST: string; PORT: number };
    logger: Logger;
    metrics: ServiceMetrics;
    closers: Closer[];
  },
): Promise<RunningService> {
  const { config, logger, metrics, closers } = options;
  const server = await listen(app, config.PORT, config.HOST);
  const settler = new IdleHeapSettler();
  server.on('request', () => settler.activity());
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${config.HOST}:${boundPort(server)}`,
    logger,
    metrics,
    closers,
    close: () => {
      settler.stop();
      return (closing ??= stopService(server, closers, logger));
    },
  };
}

async function stopService(server: Server, closers: Closer[], logger: Logger): Promise<void> {
  await closeServer(server);
  for (const closer of closers) {
    try {
      await closer.close();
    } catch (error) {
      logger.warn(`closing ${closer.name} failed`, { err: error as Error });
    }
  }
}

export interface ShutdownOptions {
  server: Server;
  logger: Logger;
  timeoutMs: number;
  /** Run in order after the server stops accepting and in-flight requests finish. */
  closers: Closer[];
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close pools and
 * clients, exit; a hard deadline guarantees the process ends within timeoutMs.
 */
export function installGracefulShutdown(options: ShutdownOptions): () => Promise<void> {
  let closing: Promise<void> | undefined;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const shutdown = (signal: string) => {
    if (closing) return closing;
    options.logger.info(`received ${signal}, shutting down`, { event: { action: 'shutdown' } });
    const deadline = setTimeout(() => {
      options.logger.error(`shutdown did not finish within ${options.timeoutMs} ms, exiting`);
      exit(1);
    }, options.timeoutMs);
    deadline.unref();
    closing = (async () => {
      await stopService(options.server, options.closers, options.logger);
      clearTimeout(deadline);
      options.logger.info('shutdown complete');
      exit(0);
    })();
    return closing;
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return () => shutdown('manual');
}

/**
 * Every service's main.ts: read the config, make the logger, start the service, drain it on
 * SIGTERM. A start-up failure exits 1 with one line (an ECS line once the logger exists).
 */
export async function runService<C extends { SHUTDOWN_TIMEOUT_MS: number }>(parts: {
  config: () => C;
  logger: (config: C) => Logger;
  start: (config: C, overrides: { logger: Logger }) => Promise<RunningService>;
}): Promise<void> {
  let logger: Logger | undefined;
  try {
    const config = parts.config();
    logger = parts.logger(config);
    const service = await parts.start(config, { logger });
    installGracefulShutdown({ ...service, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  } catch (error) {
    exitOnStartupError(error, logger);
  }
}

/** Fatal start-up errors: one ECS line when a logger exists, plain stderr otherwise. */
export function exitOnStartupError(error: unknown, logger?: Logger): never {
  const message = error instanceof Error ? error.message : String(error);
  if (logger) logger.error(`startup failed: ${message}`, { err: error as Error });
  else process.stderr.write(`startup failed: ${message}\n`);
  process.exit(1);
}

/** AUTH_DISABLED=true is allowed, never silent: one warning at every start. */
export function warnWhenAuthDisabled(config: { AUTH_DISABLED: boolean }, logger: Logger): void {
  if (!config.AUTH_DISABLED) return;
  logger.warn(
    'AUTH_DISABLED=true: this service accepts calls without credentials it is not given; never run it like this where others can reach it',
    { event: { action: 'auth-disabled' } },
  );
}
