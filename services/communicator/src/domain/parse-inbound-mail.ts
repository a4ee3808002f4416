import { createHash } from 'node:crypto';
import { type AddressObject, type HeaderValue, simpleParser } from 'mailparser';
import { extractMailText } from './extract-mail-text.js';
import { detectMailNoise } from './mail-noise-guard.js';

export type MailVerdict =
  { kind: 'process' } | { kind: 'skip'; reason: string } | { kind: 'quarantine'; reason: string };

export interface ParsedInboundMail {
  /** Message-ID, else `sha256:<hex of the raw message>`: the ledger's dedupe key. */
  externalId: string;
  messageId: string | undefined;
  references: string[];
  /** Bare sender address, lower-case: the secretary's username for the email channel. */
  sender: string;
  /** Where the reply goes (Reply-To when present, else From). */
  replyTo: string;
  subject: string;
  text: string;
  truncated: boolean;
  rawBytes: number;
  /** The top-level header block as received (see rawHeaderText), for operators looking at a skip or quarantine. */
  rawHeaders: string;
  verdict: MailVerdict;
}

export interface ParseInboundMailOptions {
  maxChars: number;
  ownAddresses: readonly string[];
}

const firstAddress = (value: AddressObject | AddressObject[] | undefined): string => {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  for (const group of list) {
    for (const entry of group.value) {
      if (entry.address) return entry.address.trim().toLowerCase();
      for (const member of entry.group ?? []) if (member.address) return member.address.trim().toLowerCase();
    }
  }
  return '';
};

const headerText = (value: HeaderValue | undefined): string | undefined => {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  if (typeof value === 'object' && 'value' in value && typeof value.value === 'string') {
    const params = 'params' in value && value.params ? value.params : {};
    return [value.value, ...Object.entries(params).map(([k, v]) => `${k}=${String(v)}`)].join('; ');
  }
  if (typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  return String(value);
};

/** The top-level header block, as raw text, to check what mailparser tolerates silently. */
function rawHeaderBlock(raw: Buffer): string {
  const head = raw.subarray(0, Math.min(raw.length, 256 * 1024)).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  return (end >= 0 ? head.slice(0, end) : head).replace(/\r?\n[ \t]+/g, ' ');
}

/** Operators see at most this much of a mail's header block (long Received/DKIM chains stay readable). */
export const RAW_HEADERS_MAX_CHARS = 16 * 1024;

/**
 * The top-level header block as received — folded lines kept — for operators: UTF-8 where it
 * decodes (SMTPUTF8 mail), else Latin-1 byte for byte; NUL and other control characters but tab
 * and line breaks removed (Postgres text refuses NUL); cut to RAW_HEADERS_MAX_CHARS with a note.
 * Text only: whoever shows it must escape it like any other text from a stranger.
 */
export function rawHeaderText(raw: Buffer): string {
  const limit = Math.min(raw.length, RAW_HEADERS_MAX_CHARS * 4 + 4);
  const head = raw.subarray(0, limit);
  const ends = [head.indexOf('\r\n\r\n'), head.indexOf('\n\n')].filter((i) => i >= 0);
  const end = ends.length > 0 ? Math.min(...ends) : -1;
  const block = end >= 0 ? head.subarray(0, end) : head;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(block);
  } catch {
    text = block.toString('latin1');
  }
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  text = text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').replace(/\r\n/g, '\n');
  const whole = end >= 0 || raw.length <= limit;
  if (text.length <= RAW_HEADERS_MAX_CHARS && whole) return text;
  return `${text.slice(0, RAW_HEADERS_MAX_CHARS)}\n… (cut: the header block is longer)`;
}

const EMAIL = /^[^\s@<>()]+@[^\s@<>()]+\.[^\s@<>()]+$/;

/**
 * Parses one raw message (charsets such as KOI8-R and windows-1251, RFC 2047
 * words, base64/QP) and decides what the ledger does with it: process it, skip
 * it with a reason (noise), or quarantine it with a reason (broken MIME).
 */
export async function parseInboundMail(
  raw: Buffer,
  options: ParseInboundMailOptions,
): Promise<ParsedInboundMail> {
  const hash = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  const base = {
    externalId: hash,
    messageId: undefined,
    references: [],
    sender: '',
    replyTo: '',
    subject: '',
    text: '',
    truncated: false,
    rawBytes: raw.length,
    rawHeaders: rawHeaderText(raw),
  };
  const headerBlock = rawHeaderBlock(raw);
  if (!/^[\x21-\x39\x3b-\x7e]+:/m.test(headerBlock)) {
    return { ...base, verdict: { kind: 'quarantine', reason: 'broken MIME: no header block' } };
  }
  const multipart = /^content-type:\s*multipart\/[^\n]*/im.exec(headerBlock)?.[0];
  if (multipart && !/boundary\s*=/i.test(multipart)) {
    const from = /^from:\s*(.*)$/im.exec(headerBlock)?.[1]?.trim() ?? '';
    return {
      ...base,
      sender: /<([^>]+)>/.exec(from)?.[1]?.toLowerCase() ?? from.toLowerCase(),
      verdict: { kind: 'quarantine', reason: 'broken MIME: multipart Content-Type without boundary' },
    };
  }

  let parsed;
  try {
    parsed = await simpleParser(raw, { skipImageLinks: true, maxHtmlLengthToParse: 5 * 1024 * 1024 });
  } catch (error) {
    return { ...base, verdict: { kind: 'quarantine', reason: `broken MIME: ${(error as Error).message}` } };
  }

  // Raw header lines: mailparser folds List-* into one structured "list" header, and the guard wants the originals.
  const rawHeaders = new Map<string, string>();
  for (const { key, line } of parsed.headerLines) {
    if (!rawHeaders.has(key)) rawHeaders.set(key, line.slice(line.indexOf(':') + 1).trim());
  }
  const header = (name: string) => rawHeaders.get(name) ?? headerText(parsed.headers.get(name));
  const sender = firstAddress(parsed.from);
  // Reply-To wins (lists, shared mailboxes), unless it is unusable or points back at us: then From.
  const declaredReplyTo = firstAddress(parsed.replyTo);
  const replyTo =
    declaredReplyTo && EMAIL.test(declaredReplyTo) && !options.ownAddresses.includes(declaredReplyTo)
      ? declaredReplyTo
      : sender;
  const messageId = parsed.messageId?.trim() || undefined;
  const references = (
    Array.isArray(parsed.references) ? parsed.references : parsed.references ? [parsed.references] : []
  )
    .flatMap((r) => r.split(/\s+/))
    .filter((r) => r.length > 0);
  const subject = parsed.subject ?? '';
  const contentType = (header('content-type') ?? 'text/plain').toLowerCase();
  const attachmentNames = parsed.attachments
    .filter((a) => a.contentDisposition === 'attachment' || !a.related)
    .map((a) => a.filename ?? `${a.contentType} (${a.size} bytes)`);
  const hasTextPart = !/^multipart\//.test(contentType)
    ? /^text\/plain/.test(contentType) || !/^text\/html/.test(contentType)
    : /content-type:\s*text\/plain/i.test(raw.toString('latin1', 0, Math.min(raw.length, 2 * 1024 * 1024)));
  const extracted = extractMailText(
    {
      subject,
      text: parsed.text,
      html: typeof parsed.html === 'string' ? parsed.html : undefined,
      hasTextPart,
      attachmentNames,
    },
    options.maxChars,
  );
  const result = {
    ...base,
    externalId: messageId ?? hash,
    messageId,
    references,
    sender,
    replyTo,
    subject,
    text: extracted.text,
    truncated: extracted.truncated,
  };
  if (!sender || !EMAIL.test(sender)) {
    return {
      ...result,
      verdict: { kind: 'quarantine', reason: 'broken MIME: no valid sender address in From' },
    };
  }
  const noise = detectMailNoise({ header, sender, contentType, ownAddresses: options.ownAddresses });
  if (noise) return { ...result, verdict: { kind: 'skip', reason: noise } };
  if (!extracted.text.trim()) return { ...result, verdict: { kind: 'skip', reason: 'empty message' } };
  return { ...result, verdict: { kind: 'process' } };
}
