import { createHash } from 'node:crypto';
import type { KnowledgeDocumentDraft, PassageDraft } from './knowledge-ports.js';

/** Longest passage; a longer section is cut at paragraph (then sentence) boundaries. */
export const MAX_PASSAGE_CHARS = 1200;

/** Same content, same hash: the order of tags does not matter, their text does. */
export function contentHash(document: Omit<KnowledgeDocumentDraft, 'id'>): string {
  const canonical = JSON.stringify([document.title, document.body, [...document.tags].sort(), document.url]);
  return createHash('sha256').update(canonical).digest('hex');
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$/;
const FENCE = /^[ \t]*(```|~~~)/;

/**
 * Splits Markdown into passages by heading, keeping the heading path ("Раздел › Подраздел").
 * Headings inside code fences are text. A document without text still gets one passage (its title).
 */
export function splitIntoPassages(title: string, body: string, maxChars = MAX_PASSAGE_CHARS): PassageDraft[] {
  const sections: { headingPath: string; text: string }[] = [];
  const path: { level: number; text: string }[] = [];
  let lines: string[] = [];
  let inFence = false;
  const flush = () => {
    const text = lines.join('\n').trim();
    if (text) sections.push({ headingPath: path.map((h) => h.text).join(' › '), text });
    lines = [];
  };
  for (const line of body.replace(/\r\n?/g, '\n').split('\n')) {
    if (FENCE.test(line)) inFence = !inFence;
    const heading = inFence ? null : HEADING.exec(line);
    if (!heading?.[1] || !heading[2]) {
      lines.push(line);
      continue;
    }
    flush();
    const level = heading[1].length;
    while (path.length > 0 && (path.at(-1)?.level ?? 0) >= level) path.pop();
    path.push({ level, text: heading[2] });
  }
  flush();
  if (sections.length === 0) sections.push({ headingPath: '', text: title });
  const passages: PassageDraft[] = [];
  for (const section of sections)
    for (const text of cut(section.text, maxChars))
      passages.push({ ordinal: passages.length, headingPath: section.headingPath, text });
  return passages;
}

/** Paragraphs are packed up to maxChars; a paragraph longer than that is cut by sentences, then hard. */
function cut(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const pieces = text.split(/\n\s*\n/).flatMap((p) => (p.length <= maxChars ? [p] : bySentence(p, maxChars)));
  const out: string[] = [];
  let current = '';
  for (const piece of pieces) {
    if (current && current.length + 2 + piece.length > maxChars) {
      out.push(current);
      current = piece;
    } else current = current ? `${current}\n\n${piece}` : piece;
  }
  if (current) out.push(current);
  return out.map((p) => p.trim()).filter(Boolean);
}

function bySentence(paragraph: string, maxChars: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const sentence of paragraph.split(/(?<=[.!?…])\s+/)) {
    for (let i = 0; i < sentence.length; i += maxChars) {
      const part = sentence.slice(i, i + maxChars);
      if (current && current.length + 1 + part.length > maxChars) {
        out.push(current);
        current = part;
      } else current = current ? `${current} ${part}` : part;
    }
  }
  if (current) out.push(current);
  return out;
}
