import type { Channel, HistoryPage } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { CapturedLines, createLogger } from '@workemon/logger';
import { describe, expect, it } from 'vitest';
import { AnalyzeRequestUseCase, type AnalyzeRequestPolicy } from '../src/domain/analyze-request-use-case.js';
import { ExchangeOwnership } from '../src/domain/exchange-ownership.js';
import type {
  ExchangeTarget,
  ExchangeStorePort,
  OwnerTimeouts,
  PendingExchange,
  StoredExchange,
} from '../src/domain/ports.js';

type Row = StoredExchange & {
  channel: Channel;
  messageId: string | undefined;
  error?: string;
  heartbeatAt: Date;
};

const abandoned = (row: Row, t: OwnerTimeouts) =>
  Date.now() - row.heartbeatAt.getTime() > t.silentMs || Date.now() - row.createdAt.getTime() > t.maxAgeMs;

/** In-memory ledger with the same uniqueness rule as the partial index. */
class MemoryStore implements ExchangeStorePort {
  rows: Row[] = [];

  async insertPending(e: PendingExchange, owner = 'earlier'): Promise<number | undefined> {
    if (
      e.messageId &&
      this.rows.some((r) => r.channel === e.channel && r.messageId === e.messageId && r.status !== 'failed')
    ) {
      return undefined;
    }
    const id = this.rows.length + 1;
    this.rows.push({
      id,
      status: 'pending',
      createdAt: new Date(),
      heartbeatAt: new Date(),
      username: e.username,
      text: e.text,
      owner,
      ownerSilentMs: 0,
      ageMs: 0,
      traceId: null,
      conversationId: null,
      analysedRequest: null,
      isEnough: null,
      action: null,
      question: null,
      response: null,
      sources: null,
      channel: e.channel,
      messageId: e.messageId,
    });
    return id;
  }
  async findActiveByMessageId(channel: Channel, messageId: string) {
    const row = this.rows.find(
      (r) => r.channel === channel && r.messageId === messageId && r.status !== 'failed',
    );
    if (!row) return undefined;
    return {
      ...row,
      ownerSilentMs: Date.now() - row.heartbeatAt.getTime(),
      ageMs: Date.now() - row.createdAt.getTime(),
    };
  }
  async abandonPending(id: number, reason: string, timeouts: OwnerTimeouts) {
    const row = this.rows.find((r) => r.id === id && r.status === 'pending' && abandoned(r, timeouts));
    if (row) Object.assign(row, { status: 'failed', error: reason });
    return row !== undefined;
  }
  async complete(
    target: ExchangeTarget,
    record: { isEnough: boolean; action: string; response: string; analysedRequest: string },
  ) {
    if (target.kind !== 'claimed') throw new Error('these tests always pass a message_id');
    Object.assign(
      this.rows.find((r) => r.id === target.id)!,
      { status: 'completed', ...record },
    );
    return { conversationId: null };
  }
  async markFailed(target: ExchangeTarget, failure: { error: string }) {
    if (target.kind !== 'claimed') throw new Error('these tests always pass a message_id');
    Object.assign(
      this.rows.find((r) => r.id === target.id)!,
      { status: 'failed', error: failure.error },
    );
  }
  async history(): Promise<HistoryPage> {
    return { items: [], next_cursor: null };
  }
}

const logger = createLogger({ service: 'ai-secretary', version: 'test', stream: new CapturedLines() });

function useCase(store: MemoryStore, policy: Partial<AnalyzeRequestPolicy> = {}) {
  let guesserCalls = 0;
  const ownership = new ExchangeOwnership({
    store: { heartbeat: async () => 0, finishAbandoned: async () => [] },
    metrics: { takeover: () => undefined, heartbeat: () => undefined, inFlight: () => undefined },
    logger,
    options: {
      owner: 'this-instance',
      heartbeatMs: 1_000,
      timeouts: { silentMs: 10_000, maxAgeMs: 60_000 },
      recheckMs: 20,
    },
  });
  const uc = new AnalyzeRequestUseCase({
    ownership,
    store,
    requesters: { lookup: async () => ({}) },
    guesser: {
      getContext: async () => {
        guesserCalls++;
        return { is_enough: true, response: 'контекст' };
      },
    },
    analyst: { prepareAnalytics: async () => ({ is_enough: true, response: 'ответ' }) },
    metrics: { analysed: () => undefined },
    logger,
    policy: {
      maxRequestChars: 100,
      clarificationTtlMs: 60_000,
      maxClarifications: 3,
      duplicateWaitMs: 200,
      ...policy,
    },
  });
  return { uc, guesserCalls: () => guesserCalls };
}

const input = { channel: 'email' as const, username: 'u', request: 'текст', message_id: 'm-1' };

describe('AnalyzeRequestUseCase idempotency edges', () => {
  it('when the first attempt is still pending past the wait budget, then the duplicate gets 503 with Retry-After', async () => {
    const store = new MemoryStore();
    await store.insertPending({
      ...input,
      traceId: undefined,
      text: input.request,
      messageId: input.message_id,
    });
    const { uc, guesserCalls } = useCase(store);
    const started = Date.now();
    const error = await uc.execute(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(503);
    expect((error as AppError).retryAfterSeconds).toBe(5);
    expect((error as AppError).message).toContain('message_id is still being processed');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(guesserCalls()).toBe(0);
  });

  it('when a pending row outlived any legitimate attempt, then it is marked failed and the request is taken over', async () => {
    const store = new MemoryStore();
    await store.insertPending({
      ...input,
      traceId: undefined,
      text: input.request,
      messageId: input.message_id,
    });
    store.rows[0]!.createdAt = new Date(Date.now() - 120_000);
    store.rows[0]!.heartbeatAt = new Date(Date.now() - 120_000);
    const { uc, guesserCalls } = useCase(store);
    const answer = await uc.execute(input);
    expect(answer).toMatchObject({ is_enough: true, response: 'ответ', replayed: false });
    expect(store.rows.map((r) => r.status)).toEqual(['failed', 'completed']);
    expect(store.rows[0]!.error).toContain('abandoned');
    expect(guesserCalls()).toBe(1);
  });
});
