import { readFile } from 'node:fs/promises';
import type { User } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import type { UserStorePort } from './ports.js';
import { parseUserDirectory } from './user-directory-file.js';

/** Reads, upserts and lists the user directory (API and start-up file import). */
export class UserDirectoryUseCases {
  constructor(private readonly store: UserStorePort) {}

  async get(username: string): Promise<User> {
    const user = await this.store.find(username);
    if (!user) throw AppError.notFound(`User '${username}' is not in the directory`);
    return user;
  }

  list(limit: number, cursor: string | undefined): Promise<{ items: User[]; next_cursor: string | null }> {
    return this.store.list(limit, cursor);
  }

  async upsert(users: User | User[]): Promise<{ upserted: number }> {
    const list = Array.isArray(users) ? users : [users];
    return { upserted: await this.store.upsert(list, 'api') };
  }

  /** USER_DIRECTORY_FILE at start: JSON array or CSV with a header row. */
  async importFile(path: string): Promise<{ upserted: number }> {
    const content = await readFile(path, 'utf8');
    const users = parseUserDirectory(content, path);
    return { upserted: users.length === 0 ? 0 : await this.store.upsert(users, 'file') };
  }
}
