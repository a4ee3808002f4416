import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, queryRows, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { InboundLedgerRepository } from '../src/data/inbound-ledger-repository.js';
import type { NewInboundRow } from '../src/data/schema.js';
import { ensureBuilt, migrate } from './support.js';

const LEASE_MS = 60_000;
const MAX_ATTEMPTS = 3;
const OWNER = 'test-owner';

describe('ledger claims: one person at a time, in arrival order', () => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let ledger: InboundLedgerRepository;
  let seq = 0;

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase('wm_comm_order');
    migrate(db.url);
    const logger = createLogger({ service: 'test', version: 'test', stream: new CapturedLines() });
    handle = createDatabase(db.url, logger, 4);
    ledger = new InboundLedgerRepository(handle.db);
  }, 60_000);

  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  const mailFrom = (username: string): NewInboundRow => ({
    channel: 'email',
    externalId: `<order-${++seq}@example.test>`,
    username,
    replyTo: username,
    requestText: `message ${seq}`,
  });
  const claimed = async () =>
    (await ledger.claim(OWNER, 10, LEASE_MS)).map((r) => `${r.username} ${r.requestText}`);

  it('when one person sends three mails at once, then only the first is handed out; the next once it is answered', async () => {
    const [a1, a2] = await ledger.record([
      mailFrom('anna'),
      mailFrom('anna'),
      mailFrom('anna'),
      mailFrom('boris'),
    ]);
    expect(await claimed()).toEqual([`anna ${a1!.requestText}`, 'boris message 4']);
    // Anna's first is being handled: her second waits, even on another replica's claim.
    expect(await claimed()).toEqual([]);
    await ledger.markAnswered(a1!.id, OWNER, {
      text: 'ok',
      action: 'ответить на письмо',
      replyMessageId: null,
    });
    expect(await claimed()).toEqual([`anna ${a2!.requestText}`]);
  });

  it("when an earlier mail is waiting out a retry backoff, then it does not hold the sender's later mail back", async () => {
    const [c1, c2] = await ledger.record([mailFrom('clara'), mailFrom('clara')]);
    expect(await claimed()).toEqual([`clara ${c1!.requestText}`]);
    await ledger.recordFailure(c1!.id, OWNER, {
      error: 'secretary 503',
      delayMs: 60_000,
      counts: false,
      maxAttempts: MAX_ATTEMPTS,
      retryForMs: 3_600_000,
    });
    expect(await claimed()).toEqual([`clara ${c2!.requestText}`]);
    const [row] = await queryRows<{ status: string }>(
      db.url,
      `select status from communicator.inbound where id = ${c1!.id}`,
    );
    expect(row?.status).toBe('processing');
  });
});
