import type { Update } from 'telegraf/types';
import { cleanControlCharacters, limitLength } from './extract-mail-text.js';
import type { NewInboundMessage } from './ledger-ports.js';

export const HELP_TEXT = [
  'Здравствуйте! Я — Workemon, помощник службы поддержки.',
  'Опишите обычным сообщением, что вам нужно: какие данные, отчёт или доступ вы ищете.',
  'Если информации не хватит, я задам уточняющий вопрос; отвечайте на него следующим сообщением.',
  'Команды: /help — эта подсказка.',
].join('\n');

/**
 * Telegram usernames (@handle) can change; the numeric user id cannot. The
 * secretary keys conversations by (channel, username), so `tg:<user id>` keeps a
 * clarification thread together. In private chats the chat id equals the user id,
 * which is what the secretary's directory stores as telegram_chat_id.
 */
export const telegramUsername = (userId: number): string => `tg:${userId}`;

/**
 * Turns one update into a ledger row, or undefined when the bot must stay
 * silent (non-message updates, group chatter that does not address the bot,
 * messages from bots). /start and /help are answered without the secretary:
 * their row is born `answered` with the help text.
 */
export function updateToLedgerRow(
  update: Update,
  bot: { id: number; username: string | undefined },
  maxChars: number,
): NewInboundMessage | undefined {
  if (!('message' in update) || !update.message) return undefined;
  const message = update.message;
  const from = message.from;
  if (!from || from.is_bot) return undefined;
  const chat = message.chat;
  const base = {
    channel: 'tg',
    externalId: `${chat.id}:${message.message_id}`,
    username: telegramUsername(from.id),
    replyTo: String(chat.id),
    thread: { messageId: message.message_id, chatType: chat.type, updateId: update.update_id },
  } satisfies Partial<NewInboundMessage>;
  const isPrivate = chat.type === 'private';
  if (!('text' in message) || typeof message.text !== 'string') {
    return isPrivate ? { ...base, status: 'skipped', lastError: 'non-text message' } : undefined;
  }
  let text = message.text;
  const mention = bot.username ? `@${bot.username}` : undefined;
  if (!isPrivate) {
    const mentioned = mention !== undefined && text.toLowerCase().includes(mention.toLowerCase());
    const replyToBot = message.reply_to_message?.from?.id === bot.id;
    if (!mentioned && !replyToBot) return undefined;
    if (mention) text = text.replace(new RegExp(mention.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'ig'), ' ');
  }
  const command = /^\/([a-z_]+)(@\w+)?(\s|$)/i.exec(text.trim());
  if (command) {
    const name = (command[1] ?? '').toLowerCase();
    const addressedTo = command[2]?.slice(1).toLowerCase();
    if (addressedTo && bot.username && addressedTo !== bot.username.toLowerCase()) return undefined;
    if (name === 'start' || name === 'help' || text.trim().split(/\s+/).length === 1) {
      return {
        ...base,
        requestText: text.trim(),
        status: 'answered',
        answerText: HELP_TEXT,
        answerAction: 'help',
      };
    }
    text = text.trim().replace(/^\/\S+\s*/, '');
  }
  const clean = limitLength(cleanControlCharacters(text).trim(), maxChars).text;
  if (!clean) return { ...base, status: 'skipped', lastError: 'empty message' };
  return { ...base, requestText: clean };
}
