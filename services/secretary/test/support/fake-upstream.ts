import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call a fake upstream received. */
export interface UpstreamCall {
  method: string;
  path: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

export type UpstreamReply =
  | { status?: number; body: unknown; delayMs?: number }
  | { hang: true }
  /** Closes the socket without answering. */
  | { drop: true };

export interface FakeUpstream {
  url: string;
  calls: UpstreamCall[];
  /** Replies used in order before the default one. */
  enqueue(...replies: UpstreamReply[]): void;
  setDefault(reply: (call: UpstreamCall) => UpstreamReply): void;
  setHealth(body: unknown, status?: number): void;
  reset(): void;
  close(): Promise<void>;
}

/**
 * A tiny HTTP server speaking the guesser's or analyst's contract (POST JSON in, JSON out,
 * GET /health and /health/live), with the failure modes the secretary must survive.
 */
export async function startFakeUpstream(
  defaultReply: (call: UpstreamCall) => UpstreamReply,
): Promise<FakeUpstream> {
  const calls: UpstreamCall[] = [];
  const queue: UpstreamReply[] = [];
  let fallback = defaultReply;
  let health: { body: unknown; status: number } = { body: { status: 'ok', checks: {} }, status: 200 };
  const open = new Set<http.ServerResponse>();

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (req.method === 'GET' && path.startsWith('/health')) {
        send(res, health.status, health.body);
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const call: UpstreamCall = {
        method: req.method ?? '',
        path,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        headers: req.headers,
      };
      calls.push(call);
      const reply = queue.shift() ?? fallback(call);
      if ('hang' in reply) {
        open.add(res);
        res.on('close', () => open.delete(res));
        return;
      }
      if ('drop' in reply) {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        if (!res.destroyed) send(res, reply.status ?? 200, reply.body);
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    enqueue: (...replies) => queue.push(...replies),
    setDefault: (reply) => {
      fallback = reply;
    },
    setHealth: (body, status = 200) => {
      health = { body, status };
    },
    reset: () => {
      calls.length = 0;
      queue.length = 0;
      fallback = defaultReply;
      health = { body: { status: 'ok', checks: {} }, status: 200 };
    },
    close: async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const usage = { promptTokens: 120, completionTokens: 30, totalTokens: 150 };

/** The guesser's happy answer (spec example wording). */
export const enoughContext = (
  response = 'Младший аналитик клиентского департамента хочет срезы по операциям кошельков, домен b2c.',
) => ({
  body: { is_enough: true, response, model: 'fake-model', prompt_version: 'builtin-test', usage },
});

export const notEnoughContext = (question = 'Уточните аналитику каких операций?') => ({
  body: { is_enough: false, response: question, model: 'fake-model', prompt_version: 'builtin-test', usage },
});

export const analystAnswer = (
  response = 'Для получения такой аналитики вам необходимо обратиться к аналитическому кубу.',
  action?: string,
) => ({
  body: {
    is_enough: true,
    response,
    ...(action ? { action } : {}),
    model: 'fake-model',
    prompt_version: 'analyst-test',
    usage,
  },
});
