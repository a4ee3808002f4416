import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KeepAlivePeer {
  url: string;
  /** Connections the peer holds open now. */
  openConnections(): Promise<number>;
  /** Polls until the peer holds no connection or `limitMs` passed; the last count. */
  connectionsAfter(limitMs: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * An HTTP peer on 127.0.0.1 that answers every request with `body` after `delayMs` and, as our
 * services do, tells clients it keeps an idle connection 65 s: for tests of how long a client keeps
 * the connections a burst opened.
 */
export async function startKeepAlivePeer(options: {
  body: string;
  delayMs?: number;
}): Promise<KeepAlivePeer> {
  const server = createServer((req, res) => {
    req.resume();
    setTimeout(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end(options.body),
      options.delayMs ?? 30,
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const openConnections = () =>
    new Promise<number>((resolve, reject) =>
      server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    openConnections,
    async connectionsAfter(limitMs) {
      let open = await openConnections();
      for (let waited = 0; open > 0 && waited < limitMs; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        open = await openConnections();
      }
      return open;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
