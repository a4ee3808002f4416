import { hashPassword } from './domain/passwords.js';

/**
 * `pnpm console:hash-password` — reads a password from stdin (or prompts on a terminal) and prints
 * its argon2id hash for OPERATORS / OPERATORS_FILE. The password never appears in argv or history.
 */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY)
    process.stderr.write('Password (input hidden is not supported; type and press Enter): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (process.stdin.isTTY && Buffer.concat(chunks).includes(10)) break;
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const password = await readPassword();
if (password.length < 8) {
  process.stderr.write('console:hash-password: the password must be at least 8 characters\n');
  process.exit(1);
}
process.stdout.write(`${await hashPassword(password)}\n`);
