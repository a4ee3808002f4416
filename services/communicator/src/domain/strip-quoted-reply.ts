const QUOTED = /^\s*>/;
const ORIGINAL_MESSAGE =
  /^\s*-{2,}\s*(original message|исходное сообщение|reply message|ответное сообщение)\s*-{2,}\s*$/i;
/** Outlook's header block that starts a quoted original ("From: … Sent: …" / "От: … Отправлено: …"). */
const OUTLOOK_HEADER = /^\s*(from|от|de|von)\s*:\s*.+/i;
const OUTLOOK_NEXT = /^\s*(sent|отправлено|date|дата|to|кому|subject|тема)\s*:/i;
/** "On … wrote:", "… пишет:", Gmail-ru "пт, 12 янв. 2024 г. в 10:00, Иван <ivan@x.ru>:", Yandex "12.01.2024, 10:00, "Иван" <ivan@x.ru>:". */
const ATTRIBUTION =
  /(wrote|пишет|написал|написала|написал\(а\)|schrieb|a écrit)\s*:\s*$|<[^>\s]+@[^>\s]+>\s*:\s*$|\d{1,2}[./:]\d{2}.*:\s*$/i;
const SIGNATURE_DELIMITER = /^--\s?$/;
const SIGN_OFF =
  /^\s*(с уважением|с наилучшими пожеланиями|всего (доброго|хорошего)|best regards|kind regards|regards|best wishes|cheers)\s*[,.!]?\s*$/i;
const MOBILE_FOOTER =
  /^\s*(sent from my \w+|отправлено (с|из) .{1,60}|sent from (mail|outlook|yandex).{0,60}|get outlook for .{1,30})\s*$/i;

/**
 * Strips quoted replies, attributions, Outlook original-message blocks,
 * signatures and mobile footers from a plain-text mail body, keeping inline
 * answers between quotes. Sign-off heuristics ("С уважением,") cut only when
 * what follows is short, so a body that merely contains the phrase survives.
 */
export function stripQuotedReply(text: string): string {
  let lines = text.split(/\r?\n/);

  // 1. Outlook-style "original message" blocks: everything from the marker on is the quoted thread.
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const next = lines[i + 1] ?? '';
    if (ORIGINAL_MESSAGE.test(line) || (i > 0 && OUTLOOK_HEADER.test(line) && OUTLOOK_NEXT.test(next))) {
      lines = lines.slice(0, i);
      break;
    }
  }

  // 2. Quoted lines and the attribution line(s) just above a quoted block.
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (QUOTED.test(line)) continue;
    if (ATTRIBUTION.test(line.trim()) && line.trim().length < 300) {
      let j = i + 1;
      while (j < lines.length && (lines[j] ?? '').trim() === '') j++;
      const quoteFollows = j < lines.length && QUOTED.test(lines[j] ?? '');
      const atEnd = j >= lines.length && /(wrote|пишет|написал|schrieb|écrit)/i.test(line);
      if (quoteFollows || atEnd) {
        // A wrapped attribution ("On Mon, … Name <" / "x@y> wrote:") spans two lines.
        const previous = kept.at(-1);
        if (previous !== undefined && previous.trim() !== '' && /(^on\s|<\S*$|,\s*$)/i.test(previous.trim()))
          kept.pop();
        continue;
      }
    }
    kept.push(line);
  }
  lines = kept;

  // 3. "-- " signature delimiter: the rest is the signature.
  const sigIndex = lines.findIndex((l) => SIGNATURE_DELIMITER.test(l));
  if (sigIndex > 0) lines = lines.slice(0, sigIndex);

  // 4. Mobile footers anywhere in the last lines.
  lines = lines.filter((l, i) => !(i >= lines.length - 4 && MOBILE_FOOTER.test(l)));

  // 5. Sign-off followed by a short block (name, position, phone): cut, but only with content above it.
  for (let i = lines.length - 1; i > 0; i--) {
    if (!SIGN_OFF.test(lines[i] ?? '')) continue;
    const tail = lines.slice(i + 1).filter((l) => l.trim() !== '');
    const above = lines.slice(0, i).some((l) => l.trim() !== '');
    if (above && tail.length <= 6 && tail.every((l) => l.trim().length <= 80)) lines = lines.slice(0, i);
    break;
  }

  return lines
    .join('\n')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
