import { Agent, request } from 'node:http';
import express from 'express';
import { createLogger } from '@workemon/logger';
import { describe, expect, it } from 'vitest';
import { boundPort, installGracefulShutdown, listen } from '../src/server.js';

const logger = createLogger({ service: 'http-kit-test', version: '0.0.0', level: 'error' });

function get(port: number, path: string, agent: Agent): Promise<{ status: number; connection: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, connection: String(res.headers.connection) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('graceful shutdown', () => {
  it('when a keep-alive request is in flight at SIGTERM, then it completes and the server closes without waiting for the keep-alive timeout', async () => {
    const app = express();
    app.get('/slow', (_req, res) => {
      setTimeout(() => res.json({ ok: true }), 300);
    });
    const server = await listen(app, 0, '127.0.0.1');
    const port = boundPort(server);
    // A scraper that keeps its connection open, as Prometheus and blackbox_exporter do.
    const agent = new Agent({ keepAlive: true });
    const exits: number[] = [];
    const started = Date.now();
    const shutdown = installGracefulShutdown({
      server,
      logger,
      timeoutMs: 5_000,
      closers: [],
      exit: (code) => exits.push(code),
    });

    const inFlight = get(port, '/slow', agent);
    await new Promise((r) => setTimeout(r, 50));
    const closing = shutdown();
    const response = await inFlight;
    await closing;
    agent.destroy();

    expect(response.status).toBe(200);
    // The client is told not to reuse the connection.
    expect(response.connection).toBe('close');
    expect(exits).toEqual([0]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('when closing a dependency throws, then the others still close and the exit code is 0', async () => {
    const server = await listen(express(), 0, '127.0.0.1');
    const closed: string[] = [];
    const exits: number[] = [];
    await installGracefulShutdown({
      server,
      logger,
      timeoutMs: 5_000,
      closers: [
        {
          name: 'broken',
          close: () => {
            throw new Error('boom');
          },
        },
        { name: 'db', close: () => void closed.push('db') },
      ],
      exit: (code) => exits.push(code),
    })();
    expect(closed).toEqual(['db']);
    expect(exits).toEqual([0]);
  });
});
