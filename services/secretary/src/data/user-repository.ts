import type { User } from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import { asc, gt, sql } from 'drizzle-orm';
import type { UserDirectoryPort } from '../domain/ports.js';
import type { Database } from './db.js';
import { guardDatabase } from '@workemon/db';
import { users } from './schema.js';

export interface UsersPage {
  items: User[];
  next_cursor: string | null;
}

type UserRow = typeof users.$inferSelect;

function toUser(row: UserRow): User {
  return {
    username: row.username,
    ...(row.displayName ? { display_name: row.displayName } : {}),
    ...(row.department ? { department: row.department } : {}),
    ...(row.position ? { position: row.position } : {}),
    ...(row.email ? { email: row.email } : {}),
    ...(row.telegramChatId ? { telegram_chat_id: row.telegramChatId } : {}),
  };
}

const UPSERT_CHUNK = 500;

/** secretary.users: the directory that tells the guesser who is asking. */
export class UserRepository implements UserDirectoryPort {
  constructor(private readonly db: Database) {}

  find(username: string): Promise<User | undefined> {
    return guardDatabase(async () => {
      const row = await this.db.query.users.findFirst({ where: (u, { eq }) => eq(u.username, username) });
      return row ? toUser(row) : undefined;
    });
  }

  /** Inserts or replaces users by username; returns how many were written. */
  upsert(list: User[], source: 'file' | 'api'): Promise<number> {
    return guardDatabase(async () => {
      // The last entry for a username wins, as if they were applied one by one.
      const unique = [...new Map(list.map((u) => [u.username, u])).values()];
      await this.db.transaction(async (tx) => {
        for (let i = 0; i < unique.length; i += UPSERT_CHUNK) {
          const chunk = unique.slice(i, i + UPSERT_CHUNK).map((u) => ({
            username: u.username,
            displayName: u.display_name ?? null,
            department: u.department ?? null,
            position: u.position ?? null,
            email: u.email ?? null,
            telegramChatId: u.telegram_chat_id ?? null,
            source,
          }));
          await tx
            .insert(users)
            .values(chunk)
            .onConflictDoUpdate({
              target: users.username,
              set: {
                displayName: sql`excluded.display_name`,
                department: sql`excluded.department`,
                position: sql`excluded.position`,
                email: sql`excluded.email`,
                telegramChatId: sql`excluded.telegram_chat_id`,
                source: sql`excluded.source`,
                updatedAt: sql`now()`,
              },
            });
        }
      });
      return unique.length;
    });
  }

  list(limit: number, cursor: string | undefined): Promise<UsersPage> {
    return guardDatabase(async () => {
      const after = cursor === undefined ? undefined : decodeUserCursor(cursor);
      const rows = await this.db
        .select()
        .from(users)
        .where(after === undefined ? undefined : gt(users.username, after))
        .orderBy(asc(users.username))
        .limit(limit + 1);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map(toUser),
        next_cursor:
          rows.length > limit && last ? Buffer.from(`u:${last.username}`).toString('base64url') : null,
      };
    });
  }
}

function decodeUserCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  // A cursor we issued holds a stored username: printable, never NUL or another control character.
  if (!decoded.startsWith('u:') || /\p{C}/u.test(decoded))
    throw AppError.badRequest("Parameter 'cursor' is not a cursor this API issued");
  return decoded.slice(2);
}
