import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTelegramUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}

export interface FakeTelegramChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  first_name?: string;
  username?: string;
}

export interface FakeTelegramMessage {
  message_id: number;
  date: number;
  chat: FakeTelegramChat;
  from?: FakeTelegramUser;
  text?: string;
  entities?: { type: string; offset: number; length: number }[];
  reply_to_message?: FakeTelegramMessage;
}

export interface FakeTelegramUpdate {
  update_id: number;
  message?: FakeTelegramMessage;
}

export interface SentTelegramMessage {
  chat_id: string;
  text: string;
  message_id: number;
  reply_to_message_id?: number;
  at: number;
}

export interface FakeTelegram {
  /** Value for telegraf's `telegram.apiRoot` / TELEGRAM_API_ROOT. */
  apiRoot: string;
  port: number;
  token: string;
  bot: FakeTelegramUser;
  sent: SentTelegramMessage[];
  chatActions: { chat_id: string; action: string; at: number }[];
  /** Every API call (method name) in arrival order. */
  calls: { method: string; at: number }[];
  /** getUpdates requests answered with 409 because another poller was waiting. */
  conflicts: number;
  /** Highest offset a getUpdates call confirmed (updates below it are gone). */
  confirmedOffset: number;
  /** Queues an update; returns it. Pass just a text for a private message from user 1001. */
  pushUpdate(update: Omit<FakeTelegramUpdate, 'update_id'> | string): FakeTelegramUpdate;
  /** Builds a private text message from a user (no update id yet). */
  privateText(text: string, userId?: number): Omit<FakeTelegramUpdate, 'update_id'>;
  /** The next `count` calls of `method` fail with this status (429 carries retry_after). */
  failNext(method: string, count: number, status: number, retryAfterSeconds?: number): void;
  webhook: { url: string; secretToken?: string } | undefined;
  close(): Promise<void>;
}

export interface StartFakeTelegramOptions {
  token?: string;
  botUsername?: string;
  /** Upper bound on how long getUpdates holds a request (the real API allows 50 s). */
  maxPollSeconds?: number;
}

/**
 * A Bot API fake on 127.0.0.1 with real long-polling semantics: getUpdates
 * drops updates below `offset`, holds the request up to `timeout` seconds for
 * new ones, and answers 409 to a concurrent poller like Telegram does.
 */
export async function startFakeTelegram(options: StartFakeTelegramOptions = {}): Promise<FakeTelegram> {
  const token = options.token ?? '123456:TEST-fake-token';
  const bot: FakeTelegramUser = {
    id: Number(token.split(':')[0]) || 123456,
    is_bot: true,
    first_name: 'Workemon',
    username: options.botUsername ?? 'workemon_bot',
  };
  const maxPollSeconds = options.maxPollSeconds ?? 50;
  const updates: FakeTelegramUpdate[] = [];
  let nextUpdateId = 1000;
  let nextMessageId = 1;
  const sent: SentTelegramMessage[] = [];
  const chatActions: FakeTelegram['chatActions'] = [];
  const calls: FakeTelegram['calls'] = [];
  const failures = new Map<string, { count: number; status: number; retryAfter?: number }>();
  let pendingPoll: { res: http.ServerResponse; finish: () => void; timer: NodeJS.Timeout } | undefined;
  const openResponses = new Set<http.ServerResponse>();
  const state = {
    conflicts: 0,
    confirmedOffset: 0,
    webhook: undefined as FakeTelegram['webhook'],
  };

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const ok = (res: http.ServerResponse, result: unknown) => send(res, 200, { ok: true, result });
  const fail = (res: http.ServerResponse, status: number, description: string, retryAfter?: number) =>
    send(res, status, {
      ok: false,
      error_code: status,
      description,
      ...(retryAfter !== undefined ? { parameters: { retry_after: retryAfter } } : {}),
    });

  const pending = (offset: number) => {
    if (offset > state.confirmedOffset) state.confirmedOffset = offset;
    // Confirmed updates are forgotten, as on the real server.
    while (updates.length > 0 && (updates[0]?.update_id ?? 0) < state.confirmedOffset) updates.shift();
    return updates;
  };

  const handle = (method: string, params: Record<string, unknown>, res: http.ServerResponse) => {
    calls.push({ method, at: Date.now() });
    const failure = failures.get(method);
    if (failure && failure.count > 0) {
      failure.count -= 1;
      if (failure.status === 429) {
        fail(res, 429, `Too Many Requests: retry after ${failure.retryAfter ?? 1}`, failure.retryAfter ?? 1);
      } else fail(res, failure.status, `Fake failure ${failure.status}`);
      return;
    }
    switch (method) {
      case 'getMe':
        ok(res, {
          ...bot,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        });
        return;
      case 'deleteWebhook':
        state.webhook = undefined;
        ok(res, true);
        return;
      case 'setWebhook':
        state.webhook = {
          url: String(params.url ?? ''),
          ...(params.secret_token ? { secretToken: String(params.secret_token) } : {}),
        };
        ok(res, true);
        return;
      case 'getWebhookInfo':
        ok(res, { url: state.webhook?.url ?? '', has_custom_certificate: false, pending_update_count: 0 });
        return;
      case 'getUpdates': {
        if (state.webhook) {
          fail(res, 409, "Conflict: can't use getUpdates method while webhook is active");
          return;
        }
        const offset = Number(params.offset ?? 0);
        const limit = Math.min(Math.max(Number(params.limit ?? 100), 1), 100);
        const timeout = Math.min(Math.max(Number(params.timeout ?? 0), 0), maxPollSeconds);
        if (pendingPoll) {
          // Telegram terminates the older request when a second poller arrives.
          state.conflicts += 1;
          const older = pendingPoll;
          pendingPoll = undefined;
          clearTimeout(older.timer);
          fail(
            older.res,
            409,
            'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
          );
        }
        const available = pending(offset);
        if (available.length > 0 || timeout === 0) {
          ok(res, available.slice(0, limit));
          return;
        }
        const finish = () => {
          if (pendingPoll?.res === res) {
            clearTimeout(pendingPoll.timer);
            pendingPoll = undefined;
          }
          ok(res, pending(offset).slice(0, limit));
        };
        pendingPoll = { res, finish, timer: setTimeout(finish, timeout * 1000) };
        res.on('close', () => {
          if (pendingPoll?.res === res) {
            clearTimeout(pendingPoll.timer);
            pendingPoll = undefined;
          }
        });
        return;
      }
      case 'sendMessage': {
        const text = String(params.text ?? '');
        if (!params.chat_id) {
          fail(res, 400, 'Bad Request: chat_id is empty');
          return;
        }
        if (text.length === 0) {
          fail(res, 400, 'Bad Request: message text is empty');
          return;
        }
        if (text.length > 4096) {
          fail(res, 400, 'Bad Request: message is too long');
          return;
        }
        const messageId = nextMessageId++;
        const replyParams = params.reply_parameters as { message_id?: number } | undefined;
        const replyTo = Number(params.reply_to_message_id ?? replyParams?.message_id ?? 0) || undefined;
        sent.push({
          chat_id: String(params.chat_id),
          text,
          message_id: messageId,
          ...(replyTo ? { reply_to_message_id: replyTo } : {}),
          at: Date.now(),
        });
        ok(res, {
          message_id: messageId,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(params.chat_id), type: 'private' },
          from: bot,
          text,
        });
        return;
      }
      case 'sendChatAction':
        chatActions.push({
          chat_id: String(params.chat_id),
          action: String(params.action ?? ''),
          at: Date.now(),
        });
        ok(res, true);
        return;
      default:
        fail(res, 404, 'Not Found: method not found');
    }
  };

  const server = http.createServer((req, res) => {
    openResponses.add(res);
    res.on('close', () => openResponses.delete(res));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      if (!match) {
        fail(res, 404, 'Not Found');
        return;
      }
      if (match[1] !== token) {
        fail(res, 401, 'Unauthorized');
        return;
      }
      const params: Record<string, unknown> = Object.fromEntries(url.searchParams.entries());
      const body = Buffer.concat(chunks).toString('utf8');
      if (body) {
        const type = req.headers['content-type'] ?? '';
        try {
          if (type.includes('application/json'))
            Object.assign(params, JSON.parse(body) as Record<string, unknown>);
          else if (type.includes('x-www-form-urlencoded'))
            Object.assign(params, Object.fromEntries(new URLSearchParams(body).entries()));
        } catch {
          fail(res, 400, 'Bad Request: cannot parse body');
          return;
        }
      }
      handle(match[2] ?? '', params, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const privateText = (text: string, userId = 1001): Omit<FakeTelegramUpdate, 'update_id'> => ({
    message: {
      message_id: nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: { id: userId, type: 'private', first_name: `User${userId}` },
      from: { id: userId, is_bot: false, first_name: `User${userId}`, username: `user${userId}` },
      text,
      ...(text.startsWith('/')
        ? { entities: [{ type: 'bot_command', offset: 0, length: text.split(/\s/)[0]?.length ?? 1 }] }
        : {}),
    },
  });

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    port,
    token,
    bot,
    sent,
    chatActions,
    calls,
    get conflicts() {
      return state.conflicts;
    },
    get confirmedOffset() {
      return state.confirmedOffset;
    },
    get webhook() {
      return state.webhook;
    },
    privateText,
    pushUpdate: (input) => {
      const base = typeof input === 'string' ? privateText(input) : input;
      const update: FakeTelegramUpdate = { update_id: nextUpdateId++, ...base };
      updates.push(update);
      pendingPoll?.finish();
      return update;
    },
    failNext: (method, count, status, retryAfterSeconds) => {
      failures.set(method, {
        count,
        status,
        ...(retryAfterSeconds !== undefined ? { retryAfter: retryAfterSeconds } : {}),
      });
    },
    close: async () => {
      for (const res of openResponses) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
