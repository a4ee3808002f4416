import { CapturedLines, createLogger } from '@workemon/logger';
import { waitFor } from '@workemon/testkit';
import { describe, expect, it } from 'vitest';
import { FollowUpWorker } from '../src/domain/follow-up-worker.js';
import { JiraCallError } from '../src/domain/jira-call-error.js';
import type { ClaimedFollowUp, FollowUpHandler, FollowUpStorePort } from '../src/domain/ports.js';

/** An in-memory queue with the store's contract: claim leases a due row and counts the attempt. */
function memoryStore(rows: { id: number; kind: ClaimedFollowUp['kind'] }[]) {
  const state = new Map(
    rows.map((r) => [r.id, { ...r, attempts: 0, status: 'pending', due: 0, leased: false, error: '' }]),
  );
  const events: string[] = [];
  const store: FollowUpStorePort = {
    claimDue: async (limit) => {
      const due = [...state.values()].filter(
        (r) => r.status === 'pending' && !r.leased && r.due <= Date.now(),
      );
      return due.slice(0, limit).map((r) => {
        r.attempts += 1;
        r.leased = true;
        return {
          id: r.id,
          requestId: r.id,
          kind: r.kind,
          payload: {},
          attempts: r.attempts,
          traceId: null,
          previousOwner: null,
        };
      });
    },
    markDone: async (id) => {
      Object.assign(state.get(id)!, { status: 'done', leased: false });
      events.push(`done ${id}`);
    },
    retryLater: async (id, error, delayMs) => {
      Object.assign(state.get(id)!, { leased: false, due: Date.now() + delayMs, error });
      events.push(`retry ${id} in ${delayMs}`);
    },
    markFailed: async (id, error) => {
      Object.assign(state.get(id)!, { status: 'failed', leased: false, error });
      events.push(`failed ${id}`);
    },
    heartbeat: async () => undefined,
    pendingCounts: async () => ({}),
  };
  return { store, state, events };
}

const logger = createLogger({
  service: 'test',
  version: 'test',
  stream: new CapturedLines(),
  level: 'debug',
});
const OPTIONS = {
  maxAttempts: 3,
  retryBaseMs: 20,
  maxRetryDelayMs: 1_000,
  leaseMs: 1_000,
  heartbeatMs: 300,
  owner: 'test-worker',
  sweepIntervalMs: 20,
};

function worker(store: FollowUpStorePort, handler: FollowUpHandler) {
  return new FollowUpWorker({
    store,
    handlers: { 'jira-task': handler },
    metrics: { outcome: () => undefined, takeover: () => undefined },
    logger,
    options: OPTIONS,
  });
}

const handler = (run: FollowUpHandler['run']): FollowUpHandler => ({ noun: 'jira issue', run });

describe('follow-up worker', () => {
  it('when the call may succeed later (429 with Retry-After), then it waits that long; when it cannot (401), then it fails at once', async () => {
    const { store, events } = memoryStore([
      { id: 1, kind: 'jira-task' },
      { id: 2, kind: 'jira-task' },
    ]);
    let calls = 0;
    const w = worker(
      store,
      handler(async () => {
        calls += 1;
        if (calls === 1) throw new JiraCallError('429', true, 150);
        if (calls === 2) throw new JiraCallError('401', false);
        return { result: { key: 'SUP-1' }, outcome: 'created', summary: 'SUP-1 created' };
      }),
    );
    w.start();
    await waitFor(() => events.includes('done 1'), 3_000);
    await w.stop();
    expect(events).toEqual(['retry 1 in 150', 'failed 2', 'done 1']);
    expect(w.health('jira-task')).toEqual({ status: 'ok' });
  });

  it('when a row keeps failing with a retryable error, then it is failed after maxAttempts with exponential delays', async () => {
    const { store, events, state } = memoryStore([{ id: 7, kind: 'jira-task' }]);
    const w = worker(
      store,
      handler(async () => {
        throw new Error('Jira answered 503');
      }),
    );
    w.start();
    await waitFor(() => events.includes('failed 7'), 3_000);
    await w.stop();
    expect(events).toEqual(['retry 7 in 20', 'retry 7 in 40', 'failed 7']);
    expect(state.get(7)?.error).toBe('Jira answered 503');
    expect(w.health('jira-task')).toMatchObject({ status: 'degraded', detail: 'Jira answered 503' });
  });

  it('when the call in hand hangs at shutdown, then stop() gives up after its grace and leaves the row leased', async () => {
    const { store, state } = memoryStore([{ id: 3, kind: 'jira-task' }]);
    const w = worker(
      store,
      handler(() => new Promise(() => undefined)),
    );
    w.start();
    await waitFor(() => state.get(3)?.leased, 1_000);
    const started = Date.now();
    await w.stop(200);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(state.get(3)).toMatchObject({ status: 'pending', leased: true, attempts: 1 });
  });
});
