import { createHash } from 'node:crypto';

export interface MailReply {
  to: string;
  subject: string;
  messageId: string;
  inReplyTo: string | undefined;
  references: string[];
  text: string;
  html: string;
}

/** Subject for a reply: one "Re: " prefix, never "Re: Re: ". */
export function replySubject(subject: string): string {
  const trimmed = subject.trim();
  if (!trimmed) return 'Re: ваше обращение';
  return /^\s*(re|ответ|aw)\s*(\[\d+\]|\(\d+\))?\s*:/i.test(trimmed) ? trimmed : `Re: ${trimmed}`;
}

/**
 * Deterministic Message-ID for the reply to ledger row `inboundId`: a retried
 * send carries the same id, so the recipient's client (and a test) can tell a
 * resend from a second answer.
 */
export function replyMessageId(inboundId: number, externalId: string, fromAddress: string): string {
  const domain = fromAddress.split('@')[1] || 'workemon.local';
  const digest = createHash('sha256').update(externalId).digest('hex').slice(0, 16);
  return `<wm-reply-${inboundId}-${digest}@${domain}>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Plain text as simple HTML: escaped, paragraphs and line breaks kept. */
export function textToHtml(text: string): string {
  const paragraphs = text
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
  return `<!doctype html><html><body style="font-family: sans-serif">\n${paragraphs}\n</body></html>`;
}

/** A threaded message; `subject` is used as given (callers apply replySubject for replies). */
export function composeMailReply(input: {
  to: string;
  subject: string;
  messageId: string;
  inboundMessageId: string | undefined;
  inboundReferences: string[];
  text: string;
}): MailReply {
  const references = [
    ...input.inboundReferences,
    ...(input.inboundMessageId ? [input.inboundMessageId] : []),
  ];
  // Long threads: keep the first and the latest references (RFC 5322 suggests trimming the middle).
  const trimmed = references.length > 20 ? [references[0] ?? '', ...references.slice(-19)] : references;
  return {
    to: input.to,
    subject: input.subject,
    messageId: input.messageId,
    inReplyTo: input.inboundMessageId,
    references: trimmed.filter((r) => r.length > 0),
    text: input.text,
    html: textToHtml(input.text),
  };
}
