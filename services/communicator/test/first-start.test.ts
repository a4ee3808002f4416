import { ConfigError, loadConfig } from '@workemon/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dovecot, queryRows, type TestDatabase, waitFor } from '@workemon/testkit';
import { configSchema } from '../src/config.js';
import {
  type CommunicatorProcess,
  emailEnv,
  ensureBuilt,
  mail,
  type MailPeers,
  startCommunicator,
  startMailPeers,
  stopMailPeers,
} from './support.js';

const USER = 'support@example.test';

/**
 * A mailbox with history: "archived" mail a person has already read (\Seen) and "waiting" mail
 * nobody has read yet, interleaved so that UID order alone cannot explain which ones are answered.
 * UIDs 1..4 in this order.
 */
const PRE_EXISTING = [
  { messageId: '<archived-1@example.test>', seen: true },
  { messageId: '<waiting-1@example.test>', seen: false },
  { messageId: '<archived-2@example.test>', seen: true },
  { messageId: '<waiting-2@example.test>', seen: false },
] as const;
const SEEN_IDS = PRE_EXISTING.filter((m) => m.seen).map((m) => m.messageId);
const UNSEEN_IDS = PRE_EXISTING.filter((m) => !m.seen).map((m) => m.messageId);
const ALL_IDS = PRE_EXISTING.map((m) => m.messageId);

const question = (messageId: string, body = `Вопрос ${messageId}`) =>
  mail({ from: 'client@example.test', subject: `Вопрос ${messageId}`, body, messageId });

type Peers = MailPeers;
const startPeers = startMailPeers;
const stopPeers = stopMailPeers;

/** UIDs of the INBOX messages flagged \Seen, read from Dovecot's own storage. */
function seenUids(dovecot: Dovecot): number[] {
  return dovecot
    .doveadm('search', '-u', USER, 'mailbox', 'INBOX', 'SEEN')
    .split('\n')
    .filter(Boolean)
    .map((line) => Number(line.trim().split(/\s+/)[1]));
}

function flagSeen(dovecot: Dovecot, messageIdPart: string): void {
  dovecot.doveadm(
    'flags',
    'add',
    '-u',
    USER,
    '\\Seen',
    'mailbox',
    'INBOX',
    'HEADER',
    'Message-ID',
    messageIdPart,
  );
}

/** Puts PRE_EXISTING into the mailbox before any communicator has seen it. */
async function seedMailbox(dovecot: Dovecot): Promise<void> {
  for (const m of PRE_EXISTING) await dovecot.deliver(USER, question(m.messageId));
  flagSeen(dovecot, 'archived-');
  expect(seenUids(dovecot)).toEqual([1, 3]);
}

async function checkpoint(db: TestDatabase): Promise<{ uidvalidity: number; lastUid: number } | undefined> {
  const [row] = await queryRows<{ uidvalidity: string; last_uid: string }>(
    db.url,
    `select uidvalidity, last_uid from communicator.checkpoints where key like 'imap:%'`,
  );
  return row ? { uidvalidity: Number(row.uidvalidity), lastUid: Number(row.last_uid) } : undefined;
}

/** UIDs of every INBOX message, from Dovecot's own storage. */
function allUids(dovecot: Dovecot): number[] {
  return dovecot
    .doveadm('search', '-u', USER, 'mailbox', 'INBOX', 'ALL')
    .split('\n')
    .filter(Boolean)
    .map((line) => Number(line.trim().split(/\s+/)[1]));
}

/**
 * Waits until nothing more can be answered, instead of waiting a while and hoping: the checkpoint
 * stands at the mailbox's newest UID (every mail was fetched or passed over) and every ledger row is
 * finished. A reply always needs a ledger row first, so the rows then are all the replies there will be.
 */
async function settled(db: TestDatabase, dovecot: Dovecot): Promise<void> {
  await waitFor(
    async () => {
      const top = Math.max(0, ...allUids(dovecot));
      const [open] = await queryRows<{ n: string }>(
        db.url,
        `select count(*) as n from communicator.inbound
          where channel = 'email' and status not in ('replied', 'skipped', 'quarantined')`,
      );
      return ((await checkpoint(db))?.lastUid ?? 0) >= top && Number(open?.n) === 0;
    },
    20_000,
    100,
  );
}

async function ledgerIds(db: TestDatabase): Promise<string[]> {
  const rows = await queryRows<{ external_id: string }>(
    db.url,
    `select external_id from communicator.inbound where channel = 'email' order by external_id`,
  );
  return rows.map((r) => r.external_id);
}

/** Simulates the server losing its index: same messages, new UIDVALIDITY, connections dropped. */
async function changeUidValidity(dovecot: Dovecot, db: TestDatabase): Promise<number> {
  const before = await checkpoint(db);
  if (!before) throw new Error('no checkpoint yet');
  const next = before.uidvalidity + 1000;
  dovecot.doveadm('mailbox', 'update', '-u', USER, '--uid-validity', String(next), 'INBOX');
  await dovecot.restart();
  await waitFor(async () => (await checkpoint(db))?.uidvalidity === next, 20_000, 100);
  return next;
}

const sorted = (values: (string | undefined)[]) => [...values].sort();

describe('IMAP_FIRST_START: the configuration', () => {
  it('when IMAP_FIRST_START is not set, then the first start takes only unseen mail', () => {
    const config = loadConfig(
      configSchema,
      { DATABASE_URL: 'postgres://x', AUTH_DISABLED: 'true' },
      { dotenv: false },
    );
    expect(config.IMAP_FIRST_START).toBe('unseen');
  });

  it('when IMAP_FIRST_START is set to all, unseen or none, then that value is used', () => {
    for (const value of ['all', 'unseen', 'none'] as const) {
      const config = loadConfig(
        configSchema,
        { DATABASE_URL: 'postgres://x', AUTH_DISABLED: 'true', IMAP_FIRST_START: value },
        { dotenv: false },
      );
      expect(config.IMAP_FIRST_START).toBe(value);
    }
  });

  it('when IMAP_FIRST_START has an unknown value, then the configuration is refused naming the variable', () => {
    const attempt = () =>
      loadConfig(
        configSchema,
        { DATABASE_URL: 'postgres://x', IMAP_FIRST_START: 'everything' },
        { dotenv: false },
      );
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/IMAP_FIRST_START/);
  });
});

describe('first start with the default (IMAP_FIRST_START unset = unseen) against a mailbox with history', () => {
  const peers: Partial<Peers> = {};
  let communicator: CommunicatorProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    ensureBuilt();
    Object.assign(peers, await startPeers('wm_comm_first_unseen'));
    const { dovecot, sink, secretary, db } = peers as Peers;
    await seedMailbox(dovecot);
    env = { DATABASE_URL: db.url, SECRETARY_URL: secretary.url, ...emailEnv(dovecot, sink) };
    communicator = await startCommunicator(env);
  }, 90_000);

  afterAll(async () => {
    await stopPeers(peers, communicator);
  });

  it('when some mail is \\Seen and some is not, then only the unseen mail is answered and the seen mail gets no reply and no ledger row', async () => {
    const { sink, secretary, db, dovecot } = peers as Peers;
    const replies = await sink.waitForCount(UNSEEN_IDS.length, 20_000);
    await waitFor(async () => (await checkpoint(db))?.lastUid === PRE_EXISTING.length, 10_000);
    await settled(db, dovecot);

    expect(sorted(replies.map((r) => r.inReplyTo))).toEqual(sorted(UNSEEN_IDS));
    expect(sink.messages).toHaveLength(UNSEEN_IDS.length);
    expect(sorted(secretary.calls.map((c) => c.message_id))).toEqual(sorted(UNSEEN_IDS));
    // The seen mail is passed over by the checkpoint alone: nothing of it is fetched or stored.
    expect(await ledgerIds(db)).toEqual(sorted(UNSEEN_IDS));
    expect(communicator?.logs.some((l) => l.includes('first start') && l.includes('unseen'))).toBe(true);
    // The answered mail is flagged \Seen as usual; the archived mail keeps its flag.
    await waitFor(() => seenUids(dovecot).length === PRE_EXISTING.length, 10_000);
  });

  it('when a person reads a new mail before the communicator fetches it (restart), then it is still answered: \\Seen counts only on the first start', async () => {
    const { sink, dovecot, db } = peers as Peers;
    sink.clear();
    await communicator?.kill();
    await dovecot.deliver(USER, question('<read-while-down@example.test>'));
    flagSeen(dovecot, 'read-while-down');
    communicator = await startCommunicator(env);

    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<read-while-down@example.test>');
    await settled(db, dovecot);
    expect(sink.messages.map((m) => m.inReplyTo)).toEqual(['<read-while-down@example.test>']);
  }, 40_000);

  it('when the UIDVALIDITY changes later, then the mail that was \\Seen before the first start is still not answered, and new mail is', async () => {
    const { sink, secretary, dovecot, db } = peers as Peers;
    sink.clear();
    const callsBefore = secretary.calls.length;
    await changeUidValidity(dovecot, db);
    await dovecot.deliver(USER, question('<after-resync@example.test>'));

    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<after-resync@example.test>');
    await settled(db, dovecot);
    expect(sink.messages.map((m) => m.inReplyTo)).toEqual(['<after-resync@example.test>']);
    expect(secretary.calls.slice(callsBefore).map((c) => c.message_id)).toEqual([
      '<after-resync@example.test>',
    ]);
    for (const id of SEEN_IDS) expect(await ledgerIds(db)).not.toContain(id);
    expect(communicator?.logs.some((l) => l.includes('UIDVALIDITY changed'))).toBe(true);
  }, 60_000);
});

describe('first start with IMAP_FIRST_START=none against a mailbox with history', () => {
  const peers: Partial<Peers> = {};
  let communicator: CommunicatorProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    Object.assign(peers, await startPeers('wm_comm_first_none'));
    const { dovecot, sink, secretary, db } = peers as Peers;
    await seedMailbox(dovecot);
    communicator = await startCommunicator({
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
      IMAP_FIRST_START: 'none',
    });
  }, 90_000);

  afterAll(async () => {
    await stopPeers(peers, communicator);
  });

  it('when the communicator starts, then nothing already in the mailbox is answered, but a mail delivered after the start is', async () => {
    const { sink, secretary, dovecot, db } = peers as Peers;
    // The first poll has passed over the whole mailbox once the checkpoint stands at its top UID.
    await waitFor(async () => (await checkpoint(db))?.lastUid === PRE_EXISTING.length, 20_000);
    await dovecot.deliver(USER, question('<after-start@example.test>'));

    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<after-start@example.test>');
    await settled(db, dovecot);
    expect(sink.messages.map((m) => m.inReplyTo)).toEqual(['<after-start@example.test>']);
    expect(secretary.calls.map((c) => c.message_id)).toEqual(['<after-start@example.test>']);
    expect(await ledgerIds(db)).toEqual(['<after-start@example.test>']);
    // The unread history stays unread for a person; only the answered mail gets flagged \Seen.
    await waitFor(() => seenUids(dovecot).join() === [1, 3, PRE_EXISTING.length + 1].join(), 10_000);
  }, 40_000);

  it('when the UIDVALIDITY changes later, then the unread mail from before the first start is still not answered, and new mail is', async () => {
    const { sink, secretary, dovecot, db } = peers as Peers;
    sink.clear();
    const callsBefore = secretary.calls.length;
    await changeUidValidity(dovecot, db);
    await dovecot.deliver(USER, question('<after-resync@example.test>'));

    const [reply] = await sink.waitForCount(1, 20_000);
    expect(reply?.inReplyTo).toBe('<after-resync@example.test>');
    await settled(db, dovecot);
    expect(sink.messages.map((m) => m.inReplyTo)).toEqual(['<after-resync@example.test>']);
    expect(secretary.calls.slice(callsBefore).map((c) => c.message_id)).toEqual([
      '<after-resync@example.test>',
    ]);
    for (const id of ALL_IDS) expect(await ledgerIds(db)).not.toContain(id);
  }, 60_000);
});

describe('first start with IMAP_FIRST_START=all against a mailbox with history', () => {
  const peers: Partial<Peers> = {};
  let communicator: CommunicatorProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    Object.assign(peers, await startPeers('wm_comm_first_all'));
    const { dovecot, sink, secretary, db } = peers as Peers;
    await seedMailbox(dovecot);
    communicator = await startCommunicator({
      DATABASE_URL: db.url,
      SECRETARY_URL: secretary.url,
      ...emailEnv(dovecot, sink),
      IMAP_FIRST_START: 'all',
    });
  }, 90_000);

  afterAll(async () => {
    await stopPeers(peers, communicator);
  });

  it('when the communicator starts, then every mail already in the mailbox is answered, read or not', async () => {
    const { sink, secretary, db, dovecot } = peers as Peers;
    const replies = await sink.waitForCount(PRE_EXISTING.length, 20_000);
    await settled(db, dovecot);
    expect(sorted(replies.map((r) => r.inReplyTo))).toEqual(sorted(ALL_IDS));
    expect(sink.messages).toHaveLength(PRE_EXISTING.length);
    expect(sorted(secretary.calls.map((c) => c.message_id))).toEqual(sorted(ALL_IDS));
    expect(await ledgerIds(db)).toEqual(sorted(ALL_IDS));
  }, 40_000);
});
