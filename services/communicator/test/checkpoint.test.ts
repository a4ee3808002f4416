import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointRepository } from '../src/data/checkpoint-repository.js';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { ensureBuilt, migrate } from './support.js';

describe('poller checkpoints', () => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let checkpoints: CheckpointRepository;

  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase('wm_comm_checkpoint');
    migrate(db.url);
    handle = createDatabase(
      db.url,
      createLogger({ service: 'test', version: 'test', stream: new CapturedLines() }),
      2,
    );
    checkpoints = new CheckpointRepository(handle.db);
  }, 60_000);
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  it('when a late writer stores an older UID for the same UIDVALIDITY, then the checkpoint stays where it was', async () => {
    await checkpoints.set('imap:a:INBOX', { uidvalidity: 7, lastUid: 120 });
    await checkpoints.set('imap:a:INBOX', { uidvalidity: 7, lastUid: 80 });
    expect(await checkpoints.get('imap:a:INBOX')).toEqual({ uidvalidity: 7, lastUid: 120 });
    await checkpoints.set('imap:a:INBOX', { uidvalidity: 7, lastUid: 121 });
    expect(await checkpoints.get('imap:a:INBOX')).toEqual({ uidvalidity: 7, lastUid: 121 });
  });

  it('when UIDVALIDITY changes, then the new, lower UID replaces the old count', async () => {
    await checkpoints.set('imap:b:INBOX', { uidvalidity: 7, lastUid: 500 });
    await checkpoints.set('imap:b:INBOX', { uidvalidity: 8, lastUid: 3 });
    expect(await checkpoints.get('imap:b:INBOX')).toEqual({ uidvalidity: 8, lastUid: 3 });
  });

  it('when a Telegram offset (no UIDVALIDITY) is written out of order, then it never moves back', async () => {
    await checkpoints.set('tg:bot', { uidvalidity: null, lastUid: 1000 });
    await checkpoints.set('tg:bot', { uidvalidity: null, lastUid: 999 });
    expect(await checkpoints.get('tg:bot')).toEqual({ uidvalidity: null, lastUid: 1000 });
  });
});
