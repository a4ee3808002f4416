import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runWithRequestId } from '@workemon/logger';
import { startKeepAlivePeer } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServiceMetrics } from '../src/metrics.js';
import { ServiceClient } from '../src/http-client.js';
import { UpstreamClient, UpstreamError } from '../src/upstream-client.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const Answer = z.object({ answer: z.string() });

describe('UpstreamClient: one classification for every upstream call', () => {
  let server: Server;
  let baseURL: string;
  let handler: Handler = (_req, _body, res) => res.end();
  const seen: { path: string | undefined; headers: IncomingMessage['headers']; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ path: req.url, headers: req.headers, body });
        handler(req, body, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => {
    return (_req, _body, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
  };

  const failure = async (promise: Promise<unknown>): Promise<UpstreamError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  };

  it('when the peer answers 200, then the body is parsed by the schema, the token, request id and JSON body are sent, and the metric says success', async () => {
    const metrics = createServiceMetrics('t', '0');
    const client = new UpstreamClient({
      target: 'peer',
      baseURL,
      timeoutMs: 2_000,
      serviceToken: 'tok',
      metrics,
    });
    handler = json(200, { answer: 'yes', extra: 'ignored' });
    seen.length = 0;
    const result = await runWithRequestId('req-1', () =>
      client.call({ method: 'POST', path: '/ask', body: { q: 'кошелёк' }, schema: Answer }),
    );
    expect(result).toEqual({ answer: 'yes' });
    expect(seen[0]?.headers.authorization).toBe('Bearer tok');
    expect(seen[0]?.headers['x-request-id']).toBe('req-1');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ q: 'кошелёк' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /upstream_request_duration_seconds_count\{service="t",target="peer",outcome="success"\} 1/,
    );
    await client.close();
  });

  it('when a GET carries query parameters, then they are percent-encoded onto the base path', async () => {
    const client = new UpstreamClient({ target: 'peer', baseURL: `${baseURL}/api/`, timeoutMs: 2_000 });
    handler = json(200, { answer: 'ok' });
    seen.length = 0;
    await client.call({ method: 'GET', path: '/search', query: { jql: 'labels = "a b"' }, schema: Answer });
    expect(seen[0]?.path).toBe('/api/search?jql=labels+%3D+%22a+b%22');
    await client.close();
  });

  it('when the peer answers 503 with Retry-After, then the failure is retryable, carries the delay and the peer message', async () => {
    const client = new UpstreamClient({ target: 'peer', baseURL, timeoutMs: 2_000 });
    handler = json(503, { message: 'busy' }, { 'retry-after': '7' });
    const error = await failure(client.call({ method: 'GET', path: '/x', schema: Answer }));
    expect(error).toMatchObject({
      kind: 'http',
      retryable: true,
      status: 503,
      retryAfterMs: 7_000,
      detail: 'busy',
    });
    await client.close();
  });

  it.each([408, 429, 500, 502])('when the peer answers %i, then the failure is retryable', async (status) => {
    const client = new UpstreamClient({ target: 'peer', baseURL, timeoutMs: 2_000 });
    handler = json(status, {});
    const error = await failure(client.call({ method: 'GET', path: '/x', schema: Answer }));
    expect(error.retryable).toBe(true);
    await client.close();
  });

  it.each([400, 401, 404, 413])(
    'when the peer answers %i, then the failure is not retryable',
    async (status) => {
      const client = new UpstreamClient({ target: 'peer', baseURL, timeoutMs: 2_000 });
      handler = json(status, { message: 'no' });
      const error = await failure(client.call({ method: 'GET', path: '/x', schema: Answer }));
      expect(error).toMatchObject({ kind: 'http', retryable: false, status, detail: 'no' });
      await client.close();
    },
  );

  it('when the peer answers 200 with a body the schema rejects (or HTML), then it is an invalid answer naming the field', async () => {
    const metrics = createServiceMetrics('t', '0');
    const client = new UpstreamClient({ target: 'peer', baseURL, timeoutMs: 2_000, metrics });
    handler = json(200, { answer: 42 });
    const error = await failure(client.call({ method: 'GET', path: '/x', schema: Answer }));
    expect(error.kind).toBe('invalid_response');
    expect(error.message).toContain('answer');
    handler = (_req, _body, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy</html>');
    expect((await failure(client.call({ method: 'GET', path: '/x', schema: Answer }))).kind).toBe(
      'invalid_response',
    );
    expect(await metrics.registry.metrics()).toMatch(
      /_count\{service="t",target="peer",outcome="invalid_response"\} 2/,
    );
    await client.close();
  });

  it('when the peer does not answer in time, then the failure is a retryable timeout', async () => {
    const client = new UpstreamClient({ target: 'peer', baseURL, timeoutMs: 200 });
    handler = (_req, _body, res) => setTimeout(() => res.end('{}'), 1_000).unref();
    const error = await failure(client.call({ method: 'GET', path: '/slow', schema: Answer }));
    expect(error).toMatchObject({ kind: 'timeout', retryable: true });
    expect(error.message).toContain('200 ms');
    await client.close();
  });

  it('when a burst ends, then its idle connections close after idleConnectionMs although the peer allows 65 s', async () => {
    const peer = await startKeepAlivePeer({ body: '{"answer":"ok"}' });
    const client = new UpstreamClient({
      target: 'peer',
      baseURL: peer.url,
      timeoutMs: 2_000,
      idleConnectionMs: 300,
    });
    try {
      const calls = Array.from({ length: 12 }, () =>
        client.call({ method: 'GET', path: '/x', schema: Answer }),
      );
      expect(await Promise.all(calls)).toHaveLength(12);
      expect(await peer.openConnections()).toBeGreaterThan(1);
      expect(await peer.connectionsAfter(3_000)).toBe(0);
    } finally {
      await client.close();
      await peer.close();
    }
  });

  it('when nothing listens on the port, then the failure is retryable and unreachable with the socket code', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const client = new UpstreamClient({
      target: 'peer',
      baseURL: `http://127.0.0.1:${port}`,
      timeoutMs: 2_000,
    });
    const error = await failure(client.call({ method: 'GET', path: '/x', schema: Answer }));
    expect(error).toMatchObject({ kind: 'unreachable', retryable: true, code: 'ECONNREFUSED' });
    await client.close();
  });

  it('when the mesh client maps failures, then 503 keeps Retry-After, a refused connection is a 503 with the socket error as cause, and a timeout is 504', async () => {
    const client = new ServiceClient({ target: 'peer', baseURL, timeoutMs: 200 });
    handler = json(503, { message: 'busy' }, { 'retry-after': '3' });
    await expect(client.post('/x', {}, Answer)).rejects.toMatchObject({ status: 503, retryAfterSeconds: 3 });
    handler = json(401, { message: 'bad token' });
    await expect(client.post('/x', {}, Answer)).rejects.toMatchObject({ status: 502 });
    handler = (_req, _body, res) => setTimeout(() => res.end('{}'), 1_000).unref();
    await expect(client.post('/x', {}, Answer)).rejects.toMatchObject({ status: 504 });
    await client.close();

    const refused = new ServiceClient({ target: 'peer', baseURL: 'http://127.0.0.1:1', timeoutMs: 500 });
    const error = await refused.post('/x', {}, Answer).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, cause: { code: 'ECONNREFUSED' } });
    await refused.close();
  });
});
