import { convert } from 'html-to-text';
import { stripQuotedReply } from './strip-quoted-reply.js';

export interface ExtractedText {
  text: string;
  truncated: boolean;
  /** Characters before truncation. */
  originalLength: number;
}

/** Elements a reader never sees: their text must not reach the LLM (hidden prompt injection, tracking). */
const HIDDEN_STYLE =
  /display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d])|opacity\s*:\s*0(?![.\d])/i;

/** Removes elements hidden with inline styles or the `hidden` attribute before conversion. */
function dropHiddenElements(html: string): string {
  let out = html;
  // Bounded: each pass removes at least one element; nested hidden blocks need a few passes.
  for (let pass = 0; pass < 20; pass++) {
    const match = /<([a-z][a-z0-9]*)\b([^>]*)>/gi;
    let found: { start: number; end: number } | undefined;
    for (let m = match.exec(out); m; m = match.exec(out)) {
      const attrs = m[2] ?? '';
      const style = /style\s*=\s*("[^"]*"|'[^']*')/i.exec(attrs)?.[1] ?? '';
      if (
        !HIDDEN_STYLE.test(style) &&
        !/\shidden(\s|=|$)/i.test(attrs) &&
        !/aria-hidden\s*=\s*"?true/i.test(attrs)
      )
        continue;
      const tag = (m[1] ?? '').toLowerCase();
      const start = m.index;
      if (/\/\s*$/.test(attrs) || ['img', 'br', 'hr', 'input', 'meta'].includes(tag)) {
        found = { start, end: start + m[0].length };
        break;
      }
      // Find the matching close tag, counting nested tags of the same name.
      const tagRe = new RegExp(`<(/?)${tag}\\b[^>]*>`, 'gi');
      tagRe.lastIndex = start + m[0].length;
      let depth = 1;
      let end = out.length;
      for (let t = tagRe.exec(out); t; t = tagRe.exec(out)) {
        depth += t[1] ? -1 : 1;
        if (depth === 0) {
          end = t.index + t[0].length;
          break;
        }
      }
      found = { start, end };
      break;
    }
    if (!found) break;
    out = out.slice(0, found.start) + out.slice(found.end);
  }
  return out;
}

export function htmlToPlainText(html: string): string {
  return convert(dropHiddenElements(html), {
    wordwrap: false,
    selectors: [
      { selector: 'head', format: 'skip' },
      { selector: 'style', format: 'skip' },
      { selector: 'script', format: 'skip' },
      { selector: 'noscript', format: 'skip' },
      { selector: 'title', format: 'skip' },
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { ignoreHref: true } },
      // Quoted originals in HTML replies (Gmail, Thunderbird, Yandex).
      { selector: 'blockquote', format: 'skip' },
      { selector: 'div.gmail_quote', format: 'skip' },
      { selector: 'div.moz-cite-prefix', format: 'skip' },
      { selector: 'h1', options: { uppercase: false } },
      { selector: 'h2', options: { uppercase: false } },
      { selector: 'h3', options: { uppercase: false } },
      { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
    ],
  });
}

/** Control characters other than tab/newline carry no meaning and NUL breaks Postgres text. */
export function cleanControlCharacters(text: string): string {
  return (
    text
      .replace(/\r\n?/g, '\n')
      .replace(/\u00a0/g, ' ')
      // Matching control and zero-width characters is the point here.
      // eslint-disable-next-line no-control-regex, no-misleading-character-class
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b\u200c\u200d\u2060\ufeff]/g, '')
  );
}

/** Truncates to `maxChars` in total, noting the cut inside the limit so the secretary never sees a 413. */
export function limitLength(text: string, maxChars: number): ExtractedText {
  if (text.length <= maxChars) return { text, truncated: false, originalLength: text.length };
  const note = `\n\n[…текст обрезан: показано ${maxChars} из ${text.length} символов]`;
  const keep = Math.max(0, maxChars - note.length - 10);
  const cut = text.slice(0, keep).replace(/\s+\S*$/, '');
  const shown = cut.length;
  const finalNote = `\n\n[…текст обрезан: показано ${shown} из ${text.length} символов]`;
  return { text: (cut + finalNote).slice(0, maxChars), truncated: true, originalLength: text.length };
}

export interface MailBodyParts {
  subject: string;
  text: string | undefined;
  html: string | undefined;
  /** True when the message has a real text/plain part (mailparser also derives text from HTML). */
  hasTextPart: boolean;
  attachmentNames: string[];
}

/** Subject without reply/forward prefixes, for the request text and duplicate detection. */
export function baseSubject(subject: string): string {
  let s = subject.trim();
  for (let i = 0; i < 10; i++) {
    const next = s.replace(/^\s*(re|fw|fwd|aw|wg|ответ|отв|пересл)\s*(\[\d+\]|\(\d+\))?\s*:\s*/i, '');
    if (next === s) break;
    s = next;
  }
  return s.trim();
}

/**
 * The text the secretary analyses: subject (when it adds something) + clean
 * body + the names of attachments (never their content), within maxChars.
 */
export function extractMailText(parts: MailBodyParts, maxChars: number): ExtractedText {
  const source =
    parts.html && (!parts.hasTextPart || !parts.text?.trim())
      ? htmlToPlainText(parts.html)
      : (parts.text ?? '');
  const body = stripQuotedReply(cleanControlCharacters(source));
  const subject = cleanControlCharacters(baseSubject(parts.subject)).replace(/\s+/g, ' ').trim();
  const sections: string[] = [];
  if (subject && !body.toLowerCase().includes(subject.toLowerCase())) sections.push(`Тема: ${subject}`);
  if (body) sections.push(body);
  if (parts.attachmentNames.length > 0)
    sections.push(`[Вложения (не прочитаны): ${parts.attachmentNames.join(', ')}]`);
  return limitLength(sections.join('\n\n').trim(), maxChars);
}
