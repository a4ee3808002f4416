import { type User, UserSchema, z } from '@workemon/contracts';

const COLUMNS = ['username', 'display_name', 'department', 'position', 'email', 'telegram_chat_id'] as const;

export class UserDirectoryFormatError extends Error {
  override name = 'UserDirectoryFormatError';
}

/**
 * Parses the user directory: a JSON array of users, or CSV with a header row
 * (username,display_name,department,position,email,telegram_chat_id; column order free, extras ignored).
 */
export function parseUserDirectory(content: string, fileName = 'user directory'): User[] {
  const text = content.replace(/^\uFEFF/, '').trim();
  if (text === '') return [];
  const raw =
    text.startsWith('[') || text.startsWith('{') ? parseJson(text, fileName) : parseCsvUsers(text, fileName);
  const result = z.array(UserSchema).safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UserDirectoryFormatError(
      `${fileName}: entry ${String(issue?.path[0] ?? '?')}: ${issue?.path.slice(1).join('.') || 'value'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

function parseJson(text: string, fileName: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserDirectoryFormatError(`${fileName}: not valid JSON: ${(error as Error).message}`);
  }
  const list = Array.isArray(value) ? value : (value as { users?: unknown }).users;
  if (!Array.isArray(list)) throw new UserDirectoryFormatError(`${fileName}: expected a JSON array of users`);
  // Chat ids are often numbers in hand-written JSON; the contract keeps them as strings.
  return list.map((entry: unknown) =>
    entry && typeof entry === 'object'
      ? Object.fromEntries(
          Object.entries(entry as Record<string, unknown>)
            .filter(([, v]) => v !== null && v !== '')
            .map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]),
        )
      : entry,
  );
}

function parseCsvUsers(text: string, fileName: string): Record<string, string>[] {
  const rows = parseCsv(text);
  const header = rows.shift()?.map((h) => h.trim().toLowerCase());
  if (!header?.includes('username')) {
    throw new UserDirectoryFormatError(
      `${fileName}: CSV header must include username (${COLUMNS.join(',')})`,
    );
  }
  return rows
    .filter((cells) => cells.some((c) => c.trim() !== ''))
    .map((cells) => {
      const user: Record<string, string> = {};
      header.forEach((name, i) => {
        const value = cells[i]?.trim();
        if ((COLUMNS as readonly string[]).includes(name) && value) user[name] = value;
      });
      return user;
    });
}

/** RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF; `;` accepted when the header uses it. */
export function parseCsv(text: string): string[][] {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const separator = !firstLine.includes(',') && firstLine.includes(';') ? ';' : ',';
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === separator) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
