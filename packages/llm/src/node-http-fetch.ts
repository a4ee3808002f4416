import http from 'node:http';
import https from 'node:https';

/**
 * A `fetch` for the openai SDK over node:http with keep-alive agents. Node's built-in
 * fetch (undici + WHATWG streams) cost about 0.8 ms of CPU per completion in our
 * profiles — as much as everything else the LLM services do per request. The body is
 * small JSON, so it is buffered and handed back as a standard Response.
 */
export function createNodeHttpFetch(options: { maxSockets?: number } = {}) {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256, maxFreeSockets: 64 };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

  const nodeFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, key) => {
        headers[key] = value;
      });
      const body = typeof init.body === 'string' ? init.body : init.body == null ? undefined : undefined;
      if (init.body != null && body === undefined) {
        reject(new TypeError('node-http-fetch supports string bodies only'));
        return;
      }
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.request(
        url,
        { method: init.method ?? 'GET', headers, agent: agents[url.protocol as 'http:' | 'https:'] },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (error) => reject(error));
          res.on('end', () => {
            cleanup();
            const responseHeaders = new Headers();
            for (const [key, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(key, v);
            }
            const status = res.statusCode ?? 500;
            const nullBody = status === 204 || status === 304;
            resolve(
              new Response(nullBody ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      const onAbort = () => {
        req.destroy(abortError(signal));
      };
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error) => {
        cleanup();
        reject(signal?.aborted ? abortError(signal) : error);
      });
      req.end(body);
    });

  return Object.assign(nodeFetch, {
    close: () => {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  });
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('This operation was aborted');
  error.name = 'AbortError';
  return error;
}
