import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryRows } from '@workemon/testkit';
import { analystAnswer } from './support/fake-upstream.js';
import {
  type RunningSecretary,
  type SecretaryHarness,
  startSecretaryHarness,
  uniqueMessageId,
  uniqueUsername,
} from './support/secretary.js';

const TOKEN = 'operator-api-service-token-0123456789';
const CLIENT_KEY = 'operator-api-client-key-0123456789';

interface Summary {
  channel: string;
  username: string;
  state: string;
  last_text: string;
  last_author: string;
  taken_over_by: string | null;
  escalated_since: string | null;
  waiting_since: string | null;
  version: string;
}

describe('secretary operator API (inbox, thread, take over, reply, resolve)', () => {
  let harness: SecretaryHarness;
  let secretary: RunningSecretary;
  const asService = { token: TOKEN };
  const path = (username: string, channel = 'email') =>
    `/operator/conversations/${channel}/${encodeURIComponent(username)}`;

  beforeAll(async () => {
    harness = await startSecretaryHarness({
      databasePrefix: 'secretary_operator',
      env: { SERVICE_TOKEN: TOKEN, API_KEYS: CLIENT_KEY, MAX_CLARIFICATIONS: '1' },
    });
    secretary = harness.secretary;
  });
  afterAll(async () => harness?.close());
  beforeEach(() => harness.reset());

  it('when a client API key calls the operator API, then it is refused (service token only)', async () => {
    const res = await secretary.call('/operator/conversations', { token: CLIENT_KEY });
    expect(res.status).toBe(403);
    expect((await secretary.call('/operator/conversations', { token: null })).status).toBe(401);
  });

  it('when people write, then the inbox lists their conversations newest first with state and last message', async () => {
    const first = `${uniqueUsername('first')}@corp.example`;
    const second = `${uniqueUsername('second')}@corp.example`;
    await secretary.call('/users', {
      method: 'PUT',
      // Directory writes need an admin key (ADMIN_API_KEYS), not a client key.
      token: secretary.adminKey,
      body: [{ username: second, display_name: 'Мария Второва', department: 'Финансы' }],
    });
    expect(
      (await secretary.analyze({ channel: 'email', username: first, request: 'первый вопрос' })).status,
    ).toBe(200);
    expect(
      (await secretary.analyze({ channel: 'email', username: second, request: 'второй вопрос' })).status,
    ).toBe(200);
    const inbox = await secretary.call('/operator/conversations?limit=200', asService);
    expect(inbox.status).toBe(200);
    const items = inbox.body.items as (Summary & {
      display_name: string | null;
      department: string | null;
    })[];
    const mine = items.filter((i) => i.username === first || i.username === second);
    expect(mine.map((i) => i.username)).toEqual([second, first]);
    expect(mine[0]).toMatchObject({
      state: 'answered',
      display_name: 'Мария Второва',
      department: 'Финансы',
    });
    expect(mine[0]?.last_author).toBe('ai');

    const searched = await secretary.call(
      `/operator/conversations?q=${encodeURIComponent('первый')}`,
      asService,
    );
    expect((searched.body.items as Summary[]).map((i) => i.username)).toContain(first);
    expect((searched.body.items as Summary[]).map((i) => i.username)).not.toContain(second);
  });

  it('when the inbox is paged, then pages do not overlap and the cursor is checked', async () => {
    const prefix = uniqueUsername('page');
    for (let i = 0; i < 5; i++)
      await secretary.analyze({ channel: 'tg', username: `${prefix}_${i}`, request: `сообщение ${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/operator/conversations?channel=tg&limit=2&q=${prefix}${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await secretary.call(query, asService);
      expect(page.status).toBe(200);
      seen.push(...(page.body.items as Summary[]).map((i) => i.username));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => `${prefix}_${i}`));
    const bad = await secretary.call('/operator/conversations?cursor=bm9wZQ', asService);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain("'cursor'");
    const badState = await secretary.call('/operator/conversations?state=sleeping', asService);
    expect(badState.status).toBe(400);
    expect(badState.body.message).toContain("'state'");
  });

  it('when an operator takes over, then the next message is held for them, not analysed nor answered', async () => {
    const person = `${uniqueUsername('held')}@corp.example`;
    await secretary.analyze({
      channel: 'email',
      username: person,
      request: 'помогите',
      message_id: uniqueMessageId(),
    });
    const taken = await secretary.call(`${path(person)}/take-over`, {
      ...asService,
      body: { operator: 'anna' },
    });
    expect(taken.status).toBe(200);
    expect(taken.body).toMatchObject({ state: 'taken_over', taken_over_by: 'anna' });

    const other = await secretary.call(`${path(person)}/take-over`, {
      ...asService,
      body: { operator: 'boris' },
    });
    expect(other.status).toBe(409);
    expect(other.body.message).toContain("'anna'");

    const guesserCalls = harness.guesser.calls.length;
    const messageId = uniqueMessageId();
    const held = await secretary.analyze({
      channel: 'email',
      username: person,
      request: 'ещё вопрос',
      message_id: messageId,
    });
    expect(held.status).toBe(200);
    expect(held.body).toMatchObject({ held_for_operator: true, response: '', question: '' });
    // A repeat of the same message is recognised, not kept twice.
    await secretary.analyze({
      channel: 'email',
      username: person,
      request: 'ещё вопрос',
      message_id: messageId,
    });
    expect(harness.guesser.calls.length).toBe(guesserCalls);

    const view = await secretary.call(path(person), asService);
    expect(view.status).toBe(200);
    const entries = view.body.entries as { kind: string; text: string }[];
    expect(entries.map((e) => e.kind)).toEqual(['exchange', 'held']);
    expect(entries[1]?.text).toBe('ещё вопрос');
    expect((view.body.conversation as Summary).waiting_since).not.toBeNull();

    // The reply: recorded once per idempotency key, addressed to the mail it answers.
    const key = `reply-${uniqueUsername('k')}`;
    const reply = await secretary.call(`${path(person)}/replies`, {
      ...asService,
      body: { operator: 'anna', text: 'Здравствуйте, отвечаю лично.', idempotency_key: key },
    });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({
      status: 'sending',
      created: true,
      delivery: { channel: 'email', to: person, in_reply_to: messageId },
    });
    const again = await secretary.call(`${path(person)}/replies`, {
      ...asService,
      body: { operator: 'anna', text: 'Здравствуйте, отвечаю лично.', idempotency_key: key },
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, id: reply.body.id });
    const byOther = await secretary.call(`${path(person)}/replies`, {
      ...asService,
      body: { operator: 'boris', text: 'и я', idempotency_key: `${key}-b` },
    });
    expect(byOther.status).toBe(409);

    const outcome = await secretary.call(`${path(person)}/replies/${key}/outcome`, {
      ...asService,
      body: { status: 'sent', external_id: '<x@y>' },
    });
    expect(outcome.status).toBe(204);
    const after = await secretary.call(path(person), asService);
    expect(after.body.conversation).toMatchObject({
      last_author: 'operator',
      waiting_since: null,
      state: 'taken_over',
    });
    expect((after.body.entries as { kind: string }[]).at(-1)).toMatchObject({
      kind: 'operator_reply',
      status: 'sent',
      operator: 'anna',
    });

    const resolved = await secretary.call(`${path(person)}/resolve`, {
      ...asService,
      body: { operator: 'anna' },
    });
    expect(resolved.body).toMatchObject({ state: 'resolved', taken_over_by: null });
    // Resolved and released: the person's next message is analysed again and reopens it.
    await secretary.analyze({
      channel: 'email',
      username: person,
      request: 'новый вопрос',
      message_id: uniqueMessageId(),
    });
    expect(harness.guesser.calls.length).toBe(guesserCalls + 1);
    expect((await secretary.call(path(person), asService)).body.conversation).toMatchObject({
      state: 'answered',
    });
  });

  it('when an operator takes over, then a message without message_id (direct API) is held too, each one kept', async () => {
    const person = uniqueUsername('held-direct');
    await secretary.analyze({ channel: 'direct', username: person, request: 'первый вопрос' });
    const taken = await secretary.call(`${path(person, 'direct')}/take-over`, {
      ...asService,
      body: { operator: 'anna' },
    });
    expect(taken.status).toBe(200);
    const guesserCalls = harness.guesser.calls.length;
    for (const request of ['второй вопрос', 'третий вопрос']) {
      const held = await secretary.analyze({ channel: 'direct', username: person, request });
      expect(held.status).toBe(200);
      expect(held.body).toMatchObject({ held_for_operator: true, response: '', question: '' });
    }
    expect(harness.guesser.calls.length).toBe(guesserCalls);
    const view = await secretary.call(path(person, 'direct'), asService);
    const entries = view.body.entries as { kind: string; text: string }[];
    expect(entries.map((e) => [e.kind, e.text])).toEqual([
      ['exchange', 'первый вопрос'],
      ['held', 'второй вопрос'],
      ['held', 'третий вопрос'],
    ]);
    expect(view.body.conversation).toMatchObject({ last_text: 'третий вопрос', last_author: 'person' });
    expect((view.body.conversation as Summary).waiting_since).not.toBeNull();
    // No exchange was written for the held messages: the history has the first one only.
    const history = await secretary.call(`/history?username=${encodeURIComponent(person)}`, asService);
    expect((history.body.items as unknown[]).length).toBe(1);
  });

  it('when the AI escalates, then the conversation is in the escalations queue until an operator answers', async () => {
    const person = `tg:${Math.floor(Math.random() * 1e9)}`;
    harness.analyst.enqueue(analystAnswer('Передаю сотруднику', 'написать в telegram сотруднику'));
    await secretary.analyze({ channel: 'tg', username: person, request: 'срочно нужен человек' });
    const view = await secretary.call(path(person, 'tg'), asService);
    expect(view.body.conversation).toMatchObject({ state: 'escalated' });
    const queue = await secretary.call('/operator/escalations', asService);
    expect((queue.body.items as Summary[]).map((i) => i.username)).toContain(person);
    const changes = await secretary.call('/operator/changes', asService);
    expect(changes.body.oldest_escalation_at).not.toBeNull();
    const metrics = await fetch(`${secretary.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/operator_escalation_oldest_age_seconds\{[^}]*\} [0-9.]+/);

    const assign = await secretary.call(`${path(person, 'tg')}/assign`, {
      ...asService,
      body: { operator: 'anna' },
    });
    expect(assign.body).toMatchObject({ assigned_to: 'anna' });
    const key = `reply-${uniqueUsername('t')}`;
    const reply = await secretary.call(`${path(person, 'tg')}/replies`, {
      ...asService,
      body: { operator: 'anna', text: 'Я здесь', idempotency_key: key },
    });
    expect(reply.body).toMatchObject({ delivery: { channel: 'tg', to: person.slice(3), in_reply_to: null } });
    await secretary.call(`${path(person, 'tg')}/replies/${key}/outcome`, {
      ...asService,
      body: { status: 'sent' },
    });
    const queueAfter = await secretary.call('/operator/escalations', asService);
    expect((queueAfter.body.items as Summary[]).map((i) => i.username)).not.toContain(person);
  });

  it('when something changes, then /operator/changes moves its version', async () => {
    const before = (await secretary.call('/operator/changes', asService)).body.version as string;
    await secretary.analyze({ channel: 'direct', username: uniqueUsername('v'), request: 'версия' });
    const after = (await secretary.call('/operator/changes', asService)).body.version as string;
    expect(BigInt(after)).toBeGreaterThan(BigInt(before));
  });

  it('when the console (service token) edits the directory for an admin operator, then it is accepted; a client key is not', async () => {
    const user = [{ username: `${uniqueUsername('dir')}@corp.example`, department: 'Финансы' }];
    expect((await secretary.call('/users', { method: 'PUT', ...asService, body: user })).status).toBe(200);
    expect((await secretary.call('/users', { method: 'PUT', token: CLIENT_KEY, body: user })).status).toBe(
      403,
    );
  });

  it('when a conversation is unknown or a parameter is bad, then 404 / 400 name it', async () => {
    const missing = await secretary.call(path('nobody@corp.example'), asService);
    expect(missing.status).toBe(404);
    const badChannel = await secretary.call('/operator/conversations/fax/x', asService);
    expect(badChannel.status).toBe(400);
    expect(badChannel.body.message).toContain("'channel'");
    const noOperator = await secretary.call(`${path('x@corp.example')}/take-over`, {
      ...asService,
      body: {},
    });
    expect(noOperator.status).toBe(400);
    expect(noOperator.body.message).toContain("'operator'");
  });
  it('when the text searched is in an old message far below the newest conversations, or in most of them, then search finds it in order either way', async () => {
    const tag = uniqueUsername('search');
    // 450 conversations (more than the search checks one by one), newest last; each says "обычный".
    // The oldest said a rare word, then something else; one says "50%" literally.
    await queryRows(
      harness.db.url,
      `INSERT INTO secretary.requests (created_at, completed_at, trace_id, channel, username, message_id,
         text, status, is_enough, action, question, response, model)
       SELECT now() - (500 - g) * interval '1 minute', now(), md5(g::text), 'email', $1 || '_' || g || '@corp.example',
         $1 || '-' || g, CASE WHEN g = 1 THEN 'бирюзовый отчёт ' || $1 WHEN g = 2 THEN 'скидка 50% ' || $1
           ELSE 'обычный вопрос ' || $1 END,
         'completed', true, 'ответить на письмо', '', 'обычный ответ', 'm'
       FROM generate_series(1, 450) g`,
      [tag],
    );
    await queryRows(
      harness.db.url,
      `INSERT INTO secretary.requests (created_at, completed_at, trace_id, channel, username, message_id,
         text, status, is_enough, action, question, response, model)
       VALUES (now() - interval '498.5 minutes', now(), 'later', 'email', $1 || '_1@corp.example', $1 || '-later',
         'ещё вопрос', 'completed', true, 'ответить на письмо', '', 'ответ', 'm')`,
      [tag],
    );
    const search = async (q: string, extra = '') =>
      (await secretary.call(`/operator/conversations?q=${encodeURIComponent(q)}${extra}`, asService))
        .body as {
        items: Summary[];
        next_cursor: string | null;
      };

    const rare = await search(`бирюзовый отчёт ${tag}`);
    expect(rare.items.map((i) => i.username)).toEqual([`${tag}_1@corp.example`]);
    expect(rare.next_cursor).toBeNull();
    expect((await search(`бирюзовый отчёт ${tag}`, '&state=escalated')).items).toEqual([]);
    // LIKE's wildcards are literal text here.
    expect((await search(`50% ${tag}`)).items.map((i) => i.username)).toEqual([`${tag}_2@corp.example`]);
    expect((await search(`5_% ${tag}`)).items).toEqual([]);
    // A person by the directory's name (not in any message).
    await queryRows(
      harness.db.url,
      `INSERT INTO secretary.users (username, display_name, source) VALUES ($1 || '_3@corp.example', 'Зинаида ' || $1, 'api')`,
      [tag],
    );
    expect((await search(`зинаида ${tag}`)).items.map((i) => i.username)).toEqual([`${tag}_3@corp.example`]);

    const first = await search(`обычный вопрос ${tag}`, '&limit=50');
    expect(first.items.map((i) => i.username)).toEqual(
      Array.from({ length: 50 }, (_, i) => `${tag}_${450 - i}@corp.example`),
    );
    const seen = first.items.map((i) => i.username);
    let cursor = first.next_cursor;
    while (cursor) {
      const next = await search(`обычный вопрос ${tag}`, `&limit=100&cursor=${cursor}`);
      seen.push(...next.items.map((i) => i.username));
      cursor = next.next_cursor;
    }
    expect(seen).toEqual(Array.from({ length: 448 }, (_, i) => `${tag}_${450 - i}@corp.example`));
  });
});
