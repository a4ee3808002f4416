import type { Server, ServerResponse } from 'node:http';
import type { Express } from 'express';
import type { Logger } from '@workemon/logger';

export async function listen(app: Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    // Keep-alive longer than typical client idle timeouts avoids races on reused sockets.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.requestTimeout = 120_000;
    trackResponses(server);
  });
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

export interface ShutdownOptions {
  server: Server;
  logger: Logger;
  timeoutMs: number;
  /** Run in order after the server stops accepting and in-flight requests finish. */
  closers: { name: string; close: () => Promise<void> | void }[];
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
      await closeServer(options.server);
      for (const closer of options.closers) {
        try {
          await closer.close();
        } catch (error) {
          options.logger.warn(`closing ${closer.name} failed`, { err: error as Error });
        }
      }
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

/** Fatal start-up errors: one ECS line when a logger exists, plain stderr otherwise. */
export function exitOnStartupError(error: unknown, logger?: Logger): never {
  const message = error instanceof Error ? error.message : String(error);
  if (logger) logger.error(`startup failed: ${message}`, { err: error as Error });
  else process.stderr.write(`startup failed: ${message}\n`);
  process.exit(1);
}
