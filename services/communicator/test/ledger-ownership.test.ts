import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, queryRows, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { InboundLedgerRepository } from '../src/data/inbound-ledger-repository.js';
import type { NewInboundRow } from '../src/data/schema.js';
import { OwnershipLost } from '../src/domain/errors.js';
import { ensureBuilt, migrate } from './support.js';

const LEASE_MS = 300;
const MAX_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ledger ownership: heartbeats, take-overs, isolation and what counts as an attempt', () => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let ledger: InboundLedgerRepository;
  let seq = 0;

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase('wm_comm_owned');
    migrate(db.url);
    const logger = createLogger({ service: 'test', version: 'test', stream: new CapturedLines() });
    handle = createDatabase(db.url, logger, 4);
    ledger = new InboundLedgerRepository(handle.db);
  }, 60_000);

  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  const message = (): NewInboundRow => ({
    channel: 'tg',
    externalId: `chat:${++seq}`,
    username: `user-${seq}`,
    replyTo: '1',
    requestText: `message ${seq}`,
  });
  const row = async (id: number) =>
    (
      await queryRows<{
        status: string;
        owner: string | null;
        attempts: number;
        crashes: number;
        retries: number;
        isolated: boolean;
        last_error: string | null;
      }>(
        db.url,
        `select status, owner, attempts, crashes, retries, isolated, last_error from communicator.inbound where id = ${id}`,
      )
    )[0];
  /** Drains whatever earlier tests left open so each test sees only its own rows. */
  const settle = async () => {
    await queryRows(
      db.url,
      `update communicator.inbound set status = 'replied', owner = null, lease_until = null`,
    );
  };

  it('when the owner keeps beating, then its row is never an orphan, however long it works', async () => {
    await settle();
    const [a] = await ledger.record([message()]);
    const [claimed] = await ledger.claim('alive', 10, LEASE_MS);
    expect(claimed?.id).toBe(a!.id);
    for (let i = 0; i < 4; i++) {
      await sleep(LEASE_MS / 2);
      expect(await ledger.heartbeat('alive', [a!.id], LEASE_MS)).toEqual([a!.id]);
    }
    expect(await ledger.hasOrphans()).toBe(false);
    expect(await ledger.claimOrphan('other', LEASE_MS, MAX_ATTEMPTS)).toBeUndefined();
    expect(await ledger.claim('other', 10, LEASE_MS)).toEqual([]);
  });

  it('when the owner dies among several rows, then each is taken over after the lease, alone, and no attempt is charged', async () => {
    await settle();
    const rows = await ledger.record([message(), message(), message()]);
    expect(await ledger.claim('dead', 10, LEASE_MS)).toHaveLength(3);
    expect(await ledger.hasOrphans()).toBe(false);
    await sleep(LEASE_MS + 100);
    expect(await ledger.hasOrphans()).toBe(true);
    // Normal claims never pick an orphan: it must run alone.
    expect(await ledger.claim('next', 10, LEASE_MS)).toEqual([]);
    const first = await ledger.claimOrphan('next', LEASE_MS, MAX_ATTEMPTS);
    expect(first?.id).toBe(rows[0]!.id);
    expect(await row(first!.id)).toMatchObject({
      status: 'processing',
      owner: 'next',
      attempts: 0,
      crashes: 1,
      isolated: true,
      last_error: 'process died while handling',
    });
  });

  it('when the process dies again while the row runs alone, then that crash is charged, and at the limit it is quarantined', async () => {
    await settle();
    const [poison] = await ledger.record([message()]);
    await ledger.claim('p1', 10, LEASE_MS);
    for (let crash = 1; crash <= MAX_ATTEMPTS; crash++) {
      await sleep(LEASE_MS + 100);
      const taken = await ledger.claimOrphan(`p${crash + 1}`, LEASE_MS, MAX_ATTEMPTS);
      expect(taken?.id).toBe(poison!.id);
      expect(taken?.status).toBe('processing');
      expect(taken?.attempts).toBe(crash - 1);
    }
    await sleep(LEASE_MS + 100);
    const last = await ledger.claimOrphan('p9', LEASE_MS, MAX_ATTEMPTS);
    expect(last?.status).toBe('quarantined');
    expect(await row(poison!.id)).toMatchObject({
      status: 'quarantined',
      owner: null,
      attempts: 3,
      crashes: 4,
      last_error: 'gave up after 3 attempts (last: the process died while handling it alone)',
    });
    expect(await ledger.hasOrphans()).toBe(false);
  });

  it('when a row was taken over, then the old owner can no longer write it (nothing is sent twice)', async () => {
    await settle();
    const [a] = await ledger.record([message()]);
    await ledger.claim('slow', 10, LEASE_MS);
    await sleep(LEASE_MS + 100);
    await ledger.claimOrphan('fast', LEASE_MS, MAX_ATTEMPTS);
    await expect(ledger.markSending(a!.id, 'slow', 'intent', false)).rejects.toBeInstanceOf(OwnershipLost);
    await expect(
      ledger.markAnswered(a!.id, 'slow', { text: 'x', action: 'ответить сообщением', replyMessageId: null }),
    ).rejects.toBeInstanceOf(OwnershipLost);
    expect(await ledger.heartbeat('slow', [a!.id], LEASE_MS)).toEqual([]);
    expect((await row(a!.id))?.owner).toBe('fast');
  });

  it('when the secretary is down, then failures only back off and never use an attempt; a failure of the message does', async () => {
    await settle();
    const [a] = await ledger.record([message()]);
    const fail = async (counts: boolean) => {
      const [claimed] = await ledger.claim('w', 10, LEASE_MS);
      expect(claimed?.id).toBe(a!.id);
      return ledger.recordFailure(a!.id, 'w', {
        error: counts ? 'secretary answered 500' : 'secretary call failed (unreachable): ECONNREFUSED',
        delayMs: 0,
        counts,
        maxAttempts: MAX_ATTEMPTS,
        retryForMs: 3_600_000,
      });
    };
    for (let i = 0; i < 10; i++) expect(await fail(false)).toBe('processing');
    expect(await row(a!.id)).toMatchObject({ attempts: 0, retries: 10, owner: null });
    expect(await fail(true)).toBe('processing');
    expect(await fail(true)).toBe('processing');
    expect(await fail(true)).toBe('quarantined');
    expect(await row(a!.id)).toMatchObject({
      status: 'quarantined',
      attempts: 3,
      retries: 10,
      last_error: 'gave up after 3 attempts (last error: secretary answered 500)',
    });
  });

  it('when an outage outlasts the retry window, then the row is quarantined with that reason', async () => {
    await settle();
    const [a] = await ledger.record([message()]);
    await ledger.claim('w', 10, LEASE_MS);
    const status = await ledger.recordFailure(a!.id, 'w', {
      error: 'secretary answered 503: down',
      delayMs: 0,
      counts: false,
      maxAttempts: MAX_ATTEMPTS,
      retryForMs: 0,
    });
    expect(status).toBe('quarantined');
    expect((await row(a!.id))?.last_error).toBe(
      'gave up after retrying for 0 min (last error: secretary answered 503: down)',
    );
  });
});
