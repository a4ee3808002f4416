import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, queryRows, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { InboundLedgerRepository } from '../src/data/inbound-ledger-repository.js';
import type { NewInboundRow } from '../src/data/schema.js';
import { OwnershipLost } from '../src/domain/errors.js';
import { runMigrations } from '../src/data/migrate.js';
import { REPO_ROOT } from './support.js';

const LEASE_MS = 300;
const MAX_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The launcher's default database: PGlite served over the wire by pglite-socket, started by the
 * launcher's own module in a child process (as `pnpm start` runs it).
 */
async function startPglite(): Promise<Pick<TestDatabase, 'url' | 'drop'>> {
  const dir = mkdtempSync(join(tmpdir(), 'wm-pglite-'));
  const module = pathToFileURL(join(REPO_ROOT, 'packages', 'launcher', 'dist', 'embedded-postgres.js')).href;
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { startEmbeddedPostgres } = await import(${JSON.stringify(module)});
       const db = await startEmbeddedPostgres(${JSON.stringify(join(dir, 'data'))}, 0);
       console.log(db.url);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL exited (${code})`)));
  });
  return {
    url,
    drop: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['PostgreSQL', () => createTestDatabase('wm_comm_owned')],
  ['PGlite over pglite-socket', startPglite],
])('ledger ownership on %s: heartbeats, take-overs, isolation and what counts as an attempt', (_, start) => {
  let db: Pick<TestDatabase, 'url' | 'drop'>;
  let handle: DatabaseHandle;
  let ledger: InboundLedgerRepository;
  let seq = 0;

  beforeAll(async () => {
    db = await start();
    // In-process (async): PGlite's socket server runs in this process, a blocking child would deadlock.
    await runMigrations(db.url);
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
    expect(await ledger.orphanLevel()).toBeUndefined();
    expect(
      await ledger.claimOrphans('other', {
        level: 0,
        limit: 8,
        leaseMs: LEASE_MS,
        maxAttempts: MAX_ATTEMPTS,
        isolated: true,
      }),
    ).toEqual([]);
    expect(await ledger.claim('other', 10, LEASE_MS)).toEqual([]);
  });

  it('when the owner dies among several rows, then they are taken over after the lease as a group, and no attempt is charged', async () => {
    await settle();
    const rows = await ledger.record([message(), message(), message()]);
    expect(await ledger.claim('dead', 10, LEASE_MS)).toHaveLength(3);
    expect(await ledger.orphanLevel()).toBeUndefined();
    await sleep(LEASE_MS + 100);
    expect(await ledger.orphanLevel()).toBe(0);
    // Normal claims never pick an orphan: orphans run with nothing else beside them.
    expect(await ledger.claim('next', 10, LEASE_MS)).toEqual([]);
    const group = await ledger.claimOrphans('next', {
      level: 0,
      limit: 8,
      leaseMs: LEASE_MS,
      maxAttempts: MAX_ATTEMPTS,
      isolated: true,
    });
    expect(group.map((r) => r.id).sort((x, y) => x - y)).toEqual(rows.map((r) => r.id));
    for (const r of group)
      expect(await row(r.id)).toMatchObject({
        status: 'processing',
        owner: 'next',
        attempts: 0,
        crashes: 1,
        isolated: false,
        last_error: 'process died while handling',
      });
  });

  it('when a group crashes again, then its rows come back in smaller groups and only a crash while alone is charged', async () => {
    await settle();
    const [a, b] = await ledger.record([message(), message()]);
    await ledger.claim('dead1', 10, LEASE_MS);
    await sleep(LEASE_MS + 100);
    expect(
      await ledger.claimOrphans('dead2', {
        level: 0,
        limit: 2,
        leaseMs: LEASE_MS,
        maxAttempts: MAX_ATTEMPTS,
        isolated: true,
      }),
    ).toHaveLength(2);
    await sleep(LEASE_MS + 100);
    // Second crash of the pair: each runs alone now (group size halved to 1); nobody charged yet.
    expect(await ledger.orphanLevel()).toBe(1);
    const [first] = await ledger.claimOrphans('dead3', {
      level: 1,
      limit: 1,
      leaseMs: LEASE_MS,
      maxAttempts: MAX_ATTEMPTS,
      isolated: true,
    });
    expect(first).toMatchObject({ id: a!.id, attempts: 0, crashes: 2, isolated: true });
    await sleep(LEASE_MS + 100);
    // The one still waiting at level 1 goes first; then the one that died alone is charged.
    expect(await ledger.orphanLevel()).toBe(1);
    const [second] = await ledger.claimOrphans('p4', {
      level: 1,
      limit: 1,
      leaseMs: LEASE_MS,
      maxAttempts: MAX_ATTEMPTS,
      isolated: true,
    });
    expect(second).toMatchObject({ id: b!.id, attempts: 0, isolated: true });
    const [again] = await ledger.claimOrphans('p4', {
      level: 2,
      limit: 1,
      leaseMs: LEASE_MS,
      maxAttempts: MAX_ATTEMPTS,
      isolated: true,
    });
    expect(again).toMatchObject({ id: a!.id, attempts: 1, crashes: 3, isolated: true });
  });

  it('when the process dies again while the row runs alone, then that crash is charged, and at the limit it is quarantined', async () => {
    await settle();
    const [poison] = await ledger.record([message()]);
    await ledger.claim('p1', 10, LEASE_MS);
    for (let crash = 1; crash <= MAX_ATTEMPTS; crash++) {
      await sleep(LEASE_MS + 100);
      const level = await ledger.orphanLevel();
      expect(level).toBe(crash - 1);
      const [taken] = await ledger.claimOrphans(`p${crash + 1}`, {
        level: level!,
        limit: 8,
        leaseMs: LEASE_MS,
        maxAttempts: MAX_ATTEMPTS,
        isolated: true,
      });
      expect(taken?.id).toBe(poison!.id);
      expect(taken?.isolated).toBe(true);
      expect(taken?.status).toBe('processing');
      expect(taken?.attempts).toBe(crash - 1);
    }
    await sleep(LEASE_MS + 100);
    const [last] = await ledger.claimOrphans('p9', {
      level: MAX_ATTEMPTS,
      limit: 8,
      leaseMs: LEASE_MS,
      maxAttempts: MAX_ATTEMPTS,
      isolated: true,
    });
    expect(last?.status).toBe('quarantined');
    expect(await row(poison!.id)).toMatchObject({
      status: 'quarantined',
      owner: null,
      attempts: 3,
      crashes: 4,
      last_error: 'gave up after 3 attempts (last: the process died while handling it alone)',
    });
    expect(await ledger.orphanLevel()).toBeUndefined();
  });

  it('when a row was taken over, then the old owner can no longer write it (nothing is sent twice)', async () => {
    await settle();
    const [a] = await ledger.record([message()]);
    await ledger.claim('slow', 10, LEASE_MS);
    await sleep(LEASE_MS + 100);
    await ledger.claimOrphans('fast', {
      level: 0,
      limit: 8,
      leaseMs: LEASE_MS,
      maxAttempts: MAX_ATTEMPTS,
      isolated: true,
    });
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
