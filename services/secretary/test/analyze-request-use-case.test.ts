import type { Channel, HistoryPage } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { CapturedLines, createLogger } from '@workemon/logger';
import { describe, expect, it } from 'vitest';
import { AnalyzeRequestUseCase, type AnalyzeRequestPolicy } from '../src/domain/analyze-request-use-case.js';
import type {
  ExchangeTarget,
  ExchangeStorePort,
  PendingExchange,
  StoredExchange,
} from '../src/domain/ports.js';

/** In-memory ledger with the same uniqueness rule as the partial index. */
class MemoryStore implements ExchangeStorePort {
  rows: (StoredExchange & { channel: Channel; messageId: string | undefined; error?: string })[] = [];

  async insertPending(e: PendingExchange): Promise<number | undefined> {
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
      traceId: null,
      conversationId: null,
      analysedRequest: null,
      isEnough: null,
      action: null,
      question: null,
      response: null,
      channel: e.channel,
      messageId: e.messageId,
    });
    return id;
  }
  async findActiveByMessageId(channel: Channel, messageId: string) {
    return this.rows.find((r) => r.channel === channel && r.messageId === messageId && r.status !== 'failed');
  }
  async abandonPending(id: number, reason: string) {
    const row = this.rows.find((r) => r.id === id && r.status === 'pending');
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

function useCase(store: MemoryStore, policy: Partial<AnalyzeRequestPolicy> = {}) {
  let guesserCalls = 0;
  const uc = new AnalyzeRequestUseCase({
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
    logger: createLogger({ service: 'ai-secretary', version: 'test', stream: new CapturedLines() }),
    policy: {
      maxRequestChars: 100,
      clarificationTtlMs: 60_000,
      maxClarifications: 3,
      duplicateWaitMs: 200,
      stalePendingMs: 60_000,
      pollIntervalMs: 20,
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
    expect((error as AppError).message).toContain("message_id 'm-1' is still being processed");
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
    const { uc, guesserCalls } = useCase(store);
    const answer = await uc.execute(input);
    expect(answer).toMatchObject({ is_enough: true, response: 'ответ', replayed: false });
    expect(store.rows.map((r) => r.status)).toEqual(['failed', 'completed']);
    expect(store.rows[0]!.error).toContain('abandoned');
    expect(guesserCalls()).toBe(1);
  });
});
