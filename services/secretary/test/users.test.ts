import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapturedLines, createLogger } from '@workemon/logger';
import { createTestDatabase, type TestDatabase } from '@workemon/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../src/data/db.js';
import { runMigrations } from '../src/data/migrate.js';
import { UserRepository } from '../src/data/user-repository.js';
import { parseCsv, parseUserDirectory, UserDirectoryFormatError } from '../src/domain/user-directory-file.js';
import { UserDirectoryUseCases } from '../src/domain/user-directory-use-cases.js';
import {
  analystAnswer,
  enoughContext,
  type FakeUpstream,
  startFakeUpstream,
} from './support/fake-upstream.js';
import { type RunningSecretary, startSecretary, uniqueUsername } from './support/secretary.js';

const user = (overrides: Record<string, string> = {}) => ({
  username: uniqueUsername(),
  display_name: 'Антон Смирнов',
  department: 'Департамент клиентского сервиса',
  position: 'младший аналитик',
  email: 'smirnov@example.test',
  telegram_chat_id: '100500',
  ...overrides,
});

describe('user directory file parsing', () => {
  it('when the file is a JSON array, then users are parsed and numeric chat ids become strings', () => {
    const users = parseUserDirectory(
      JSON.stringify([
        { username: 'smirnovanton', department: 'ДКС', position: 'аналитик', telegram_chat_id: 100500 },
      ]),
    );
    expect(users).toEqual([
      { username: 'smirnovanton', department: 'ДКС', position: 'аналитик', telegram_chat_id: '100500' },
    ]);
  });

  it('when the file is CSV with a header, quotes and CRLF, then every row becomes a user', () => {
    const csv =
      '\uFEFFusername,display_name,department,position,email,telegram_chat_id\r\n' +
      'smirnovanton,"Смирнов, Антон",Департамент клиентского сервиса,младший аналитик,a@x.test,100500\r\n' +
      'ivanova,"Иванова ""Мария""",ДКС,,,\r\n\r\n';
    expect(parseUserDirectory(csv)).toEqual([
      {
        username: 'smirnovanton',
        display_name: 'Смирнов, Антон',
        department: 'Департамент клиентского сервиса',
        position: 'младший аналитик',
        email: 'a@x.test',
        telegram_chat_id: '100500',
      },
      { username: 'ivanova', display_name: 'Иванова "Мария"', department: 'ДКС' },
    ]);
    expect(parseCsv('a;b\n1;2')).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('when the file is malformed, then the error names the file and the problem', () => {
    expect(() => parseUserDirectory('[{"username": ""}]', 'users.json')).toThrow(UserDirectoryFormatError);
    expect(() => parseUserDirectory('[{"username": ""}]', 'users.json')).toThrow(
      /users\.json: entry 0: username/,
    );
    expect(() => parseUserDirectory('name,department\nx,y', 'users.csv')).toThrow(
      /users\.csv: CSV header must include username/,
    );
    expect(() => parseUserDirectory('[not json', 'users.json')).toThrow(/not valid JSON/);
  });
});

describe('secretary users', () => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let guesser: FakeUpstream;
  let analyst: FakeUpstream;
  let secretary: RunningSecretary;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('secretary_users');
    await runMigrations(db.url);
    handle = createDatabase({
      url: db.url,
      max: 2,
      logger: createLogger({ service: 'ai-secretary', version: 'test', stream: new CapturedLines() }),
    });
    dir = await mkdtemp(join(tmpdir(), 'secretary-users-'));
    guesser = await startFakeUpstream(() => enoughContext());
    analyst = await startFakeUpstream(() => analystAnswer());
    secretary = await startSecretary({
      databaseUrl: db.url,
      guesserUrl: guesser.url,
      analystUrl: analyst.url,
      env: { API_KEYS: 'users-api-key-0123456789' },
    });
  });
  afterAll(async () => {
    await secretary?.close();
    await handle?.close();
    await guesser?.close();
    await analyst?.close();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('when USER_DIRECTORY_FILE is JSON or CSV, then its users are upserted and a re-import updates them', async () => {
    const useCases = new UserDirectoryUseCases(new UserRepository(handle.db));
    const jsonFile = join(dir, 'users.json');
    await writeFile(
      jsonFile,
      JSON.stringify([{ username: 'file_json_user', department: 'ДКС', position: 'аналитик' }]),
    );
    expect(await useCases.importFile(jsonFile)).toEqual({ upserted: 1 });

    const csvFile = join(dir, 'users.csv');
    await writeFile(
      csvFile,
      'username,department,position\nfile_csv_user,Казначейство,казначей\nfile_json_user,ДКС,ведущий аналитик\n',
    );
    expect(await useCases.importFile(csvFile)).toEqual({ upserted: 2 });
    expect(await useCases.get('file_json_user')).toEqual({
      username: 'file_json_user',
      department: 'ДКС',
      position: 'ведущий аналитик',
    });
    expect(await useCases.get('file_csv_user')).toMatchObject({ department: 'Казначейство' });
    await expect(useCases.importFile(join(dir, 'missing.csv'))).rejects.toThrow(/ENOENT/);
  });

  it('when users are PUT one or many, then GET returns them and the list pages by username', async () => {
    const prefix = uniqueUsername('page');
    const many = ['c', 'a', 'b', 'd'].map((s) => user({ username: `${prefix}_${s}` }));
    expect(
      (await secretary.call('/users', { method: 'PUT', body: many, token: secretary.adminKey })).body,
    ).toEqual({ upserted: 4 });
    const single = user({ username: `${prefix}_e`, position: 'старший аналитик' });
    expect(
      (await secretary.call('/users', { method: 'POST', body: single, token: secretary.adminKey })).body,
    ).toEqual({ upserted: 1 });

    const got = await secretary.call(`/users/${encodeURIComponent(single.username)}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(single);

    const listed: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 20; i++) {
      const query: string = new URLSearchParams({ limit: '2', ...(cursor ? { cursor } : {}) }).toString();
      const res = await secretary.call(`/users?${query}`);
      expect(res.status).toBe(200);
      listed.push(...(res.body.items as { username: string }[]).map((u) => u.username));
      cursor = res.body.next_cursor as string | null;
      if (!cursor) break;
    }
    expect(listed.filter((u) => u.startsWith(prefix))).toEqual(
      ['a', 'b', 'c', 'd', 'e'].map((s) => `${prefix}_${s}`),
    );
    expect([...listed].sort()).toEqual(listed);
  });

  it('when a user is unknown or the body is invalid, then 404 and 400 name the problem', async () => {
    const missing = await secretary.call('/users/nobody_here');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe("User 'nobody_here' is not in the directory");
    const bad = await secretary.call('/users', {
      method: 'PUT',
      body: { display_name: 'no username' },
      token: secretary.adminKey,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('Bad Request');
    expect(
      (await secretary.call('/users', { method: 'PUT', rawBody: '{', token: secretary.adminKey })).status,
    ).toBe(400);
  });

  it('when a known user writes, then the guesser and analyst see their department and position', async () => {
    const known = user();
    await secretary.call('/users', { method: 'PUT', body: known, token: secretary.adminKey });
    const res = await secretary.analyze({
      channel: 'tg',
      username: known.username,
      request: 'Хочу аналитику по кошелькам',
    });
    expect(res.status).toBe(200);
    expect(guesser.calls.at(-1)?.body).toMatchObject({
      department: known.department,
      position: known.position,
    });
    expect(String(analyst.calls.at(-1)?.body.context)).toContain('Антон Смирнов');
    expect(String(analyst.calls.at(-1)?.body.context)).toContain(known.department);
  });
});
